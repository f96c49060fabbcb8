"""A parser for the SOQL subset q2c and common clients send, into an AST; the query module resolves and runs it.

    SELECT field [, field]*            fields may be relationship paths: Account.Name, Owner.Username
    FROM object
    [WHERE condition]                  =, !=, <>, <, <=, >, >=, LIKE, [NOT] IN (...), NOT, AND, OR, parentheses
    [ORDER BY field [ASC|DESC] [NULLS FIRST|LAST] [, ...]]
    [LIMIT n] [OFFSET n]

Literals: 'strings' with backslash escapes, numbers, dates (2027-01-01), datetimes (2027-01-01T00:00:00Z),
TRUE, FALSE, NULL. As in Salesforce, AND and OR cannot be mixed at one level without parentheses, and errors
carry the row and column of the offending token.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

KEYWORDS = frozenset(
    {"SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "IN", "LIKE", "ORDER", "BY", "ASC", "DESC", "NULLS", "FIRST"}
    | {"LAST", "LIMIT", "OFFSET", "TRUE", "FALSE", "NULL"}
)
COMPARISON_OPERATORS = frozenset({"=", "!=", "<>", "<", "<=", ">", ">="})
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", "'": "'", '"': '"', "\\": "\\"}
_ESCAPES |= {"_": "\\_", "%": "\\%"}  # kept escaped: they only mean a literal _ or % inside LIKE patterns

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<string>'(?:\\.|[^'\\])*')
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:?\d{2}))
  | (?P<date>\d{4}-\d{2}-\d{2})
  | (?P<number>[+-]?\d+(?:\.\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<operator>!=|<>|<=|>=|=|<|>)
  | (?P<punctuation>[(),])
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class Position:
    row: int
    column: int


class SoqlError(Exception):
    """A query Salesforce would refuse: MALFORMED_QUERY, INVALID_FIELD, INVALID_TYPE, ..."""

    def __init__(self, code: str, detail: str, position: Position | None = None) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.position = position

    def message(self, query: str) -> str:
        """Salesforce's message: the query line, a caret under the token, its row and column, then the detail."""
        if self.position is None:
            return self.detail
        line = query.splitlines()[self.position.row - 1] if query.strip() else ""
        caret = " " * (self.position.column - 1) + "^"
        return f"\n{line}\n{caret}\nERROR at Row:{self.position.row}:Column:{self.position.column}\n{self.detail}"


class TokenKind(StrEnum):
    STRING = "string"
    DATETIME = "datetime"
    DATE = "date"
    NUMBER = "number"
    NAME = "name"
    KEYWORD = "keyword"
    OPERATOR = "operator"
    PUNCTUATION = "punctuation"
    END = "end"


@dataclass(frozen=True)
class Token:
    kind: TokenKind
    text: str
    position: Position

    def is_keyword(self, *words: str) -> bool:
        return self.kind is TokenKind.KEYWORD and self.text in words


class LiteralKind(StrEnum):
    STRING = "string"
    NUMBER = "number"
    DATE = "date"
    DATETIME = "datetime"
    BOOLEAN = "boolean"
    NULL = "null"


@dataclass(frozen=True)
class FieldRef:
    path: tuple[str, ...]
    position: Position

    @property
    def text(self) -> str:
        return ".".join(self.path)


@dataclass(frozen=True)
class Literal:
    kind: LiteralKind
    value: Any
    position: Position


@dataclass(frozen=True)
class Comparison:
    field: FieldRef
    operator: str  # one of COMPARISON_OPERATORS, "<>" normalised to "!=", or "LIKE"
    value: Literal


@dataclass(frozen=True)
class Membership:
    field: FieldRef
    values: tuple[Literal, ...]
    negated: bool


@dataclass(frozen=True)
class Not:
    operand: Condition


@dataclass(frozen=True)
class And:
    operands: tuple[Condition, ...]


@dataclass(frozen=True)
class Or:
    operands: tuple[Condition, ...]


Condition = Comparison | Membership | Not | And | Or


@dataclass(frozen=True)
class Ordering:
    field: FieldRef
    descending: bool = False
    nulls_last: bool = False


@dataclass(frozen=True)
class SoqlQuery:
    fields: tuple[FieldRef, ...]
    sobject: str
    sobject_position: Position
    where: Condition | None = None
    order_by: tuple[Ordering, ...] = ()
    limit: int | None = None
    offset: int | None = None


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    index, row, line_start = 0, 1, 0
    while index < len(text):
        match = _TOKEN.match(text, index)
        position = Position(row, index - line_start + 1)
        if match is None:
            raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{text[index]}'", position)
        kind = match.lastgroup or ""
        value = match.group()
        if kind == "space":
            for offset, char in enumerate(value):
                if char == "\n":
                    row, line_start = row + 1, index + offset + 1
        elif kind == "name" and value.upper() in KEYWORDS:
            tokens.append(Token(TokenKind.KEYWORD, value.upper(), position))
        else:
            tokens.append(Token(TokenKind(kind), value, position))
        index = match.end()
    tokens.append(Token(TokenKind.END, "", Position(row, index - line_start + 1)))
    return tokens


def parse(text: str) -> SoqlQuery:
    return _Parser(tokenize(text)).query()


def _unescape(quoted: str, position: Position) -> str:
    body, out, index = quoted[1:-1], [], 0
    while index < len(body):
        char = body[index]
        if char == "\\":
            escaped = body[index + 1]
            if escaped not in _ESCAPES:
                detail = f"Invalid string literal '{quoted}'. Illegal character sequence '\\{escaped}' in literal."
                raise SoqlError("MALFORMED_QUERY", detail, position)
            out.append(_ESCAPES[escaped])
            index += 2
        else:
            out.append(char)
            index += 1
    return "".join(out)


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self._tokens = tokens
        self._index = 0

    @property
    def _current(self) -> Token:
        return self._tokens[self._index]

    def _advance(self) -> Token:
        token = self._current
        self._index += 1
        return token

    def _unexpected(self, token: Token | None = None) -> SoqlError:
        token = token or self._current
        text = token.text if token.kind is not TokenKind.END else "<EOF>"
        return SoqlError("MALFORMED_QUERY", f"unexpected token: '{text}'", token.position)

    def _expect_keyword(self, word: str) -> Token:
        if not self._current.is_keyword(word):
            raise self._unexpected()
        return self._advance()

    def _expect_punctuation(self, char: str) -> Token:
        if self._current.kind is not TokenKind.PUNCTUATION or self._current.text != char:
            raise self._unexpected()
        return self._advance()

    def _field(self) -> FieldRef:
        token = self._current
        if token.kind is not TokenKind.NAME:
            raise self._unexpected()
        self._advance()
        return FieldRef(tuple(token.text.split(".")), token.position)

    def _integer(self) -> int:
        token = self._current
        if token.kind is not TokenKind.NUMBER or not token.text.isdigit():
            raise self._unexpected()
        self._advance()
        return int(token.text)

    def query(self) -> SoqlQuery:
        self._expect_keyword("SELECT")
        fields = [self._field()]
        while self._current.text == "," and self._current.kind is TokenKind.PUNCTUATION:
            self._advance()
            fields.append(self._field())
        self._expect_keyword("FROM")
        sobject_token = self._current
        if sobject_token.kind is not TokenKind.NAME or "." in sobject_token.text:
            raise self._unexpected()
        self._advance()
        where = order_by = limit = offset = None
        if self._current.is_keyword("WHERE"):
            self._advance()
            where = self._condition()
        if self._current.is_keyword("ORDER"):
            self._advance()
            self._expect_keyword("BY")
            order_by = self._orderings()
        if self._current.is_keyword("LIMIT"):
            self._advance()
            limit = self._integer()
        if self._current.is_keyword("OFFSET"):
            self._advance()
            offset = self._integer()
        if self._current.kind is not TokenKind.END:
            raise self._unexpected()
        return SoqlQuery(
            tuple(fields), sobject_token.text, sobject_token.position, where, tuple(order_by or ()), limit, offset
        )

    def _condition(self) -> Condition:
        first = self._unary()
        if not self._current.is_keyword("AND", "OR"):
            return first
        joiner = self._current.text
        operands = [first]
        while self._current.is_keyword("AND", "OR"):
            if self._current.text != joiner:
                raise self._unexpected()  # Salesforce requires parentheses to mix AND and OR
            self._advance()
            operands.append(self._unary())
        return And(tuple(operands)) if joiner == "AND" else Or(tuple(operands))

    def _unary(self) -> Condition:
        if self._current.is_keyword("NOT"):
            self._advance()
            return Not(self._unary())
        if self._current.kind is TokenKind.PUNCTUATION and self._current.text == "(":
            self._advance()
            condition = self._condition()
            self._expect_punctuation(")")
            return condition
        return self._comparison()

    def _comparison(self) -> Condition:
        field = self._field()
        token = self._current
        if token.kind is TokenKind.OPERATOR:
            self._advance()
            return Comparison(field, "!=" if token.text == "<>" else token.text, self._literal())
        if token.is_keyword("LIKE"):
            self._advance()
            return Comparison(field, "LIKE", self._literal())
        negated = token.is_keyword("NOT")
        if negated:
            self._advance()
        self._expect_keyword("IN")
        self._expect_punctuation("(")
        values = [self._literal()]
        while self._current.kind is TokenKind.PUNCTUATION and self._current.text == ",":
            self._advance()
            values.append(self._literal())
        self._expect_punctuation(")")
        return Membership(field, tuple(values), negated)

    def _literal(self) -> Literal:
        token = self._advance()
        position = token.position
        if token.kind is TokenKind.STRING:
            return Literal(LiteralKind.STRING, _unescape(token.text, position), position)
        if token.kind is TokenKind.NUMBER:
            return Literal(LiteralKind.NUMBER, Decimal(token.text), position)
        if token.kind is TokenKind.DATE:
            try:
                return Literal(LiteralKind.DATE, date.fromisoformat(token.text), position)
            except ValueError:
                raise SoqlError("MALFORMED_QUERY", f"invalid date: {token.text}", position) from None
        if token.kind is TokenKind.DATETIME:
            try:
                return Literal(LiteralKind.DATETIME, datetime.fromisoformat(token.text), position)
            except ValueError:
                raise SoqlError("MALFORMED_QUERY", f"invalid datetime: {token.text}", position) from None
        if token.is_keyword("TRUE", "FALSE"):
            return Literal(LiteralKind.BOOLEAN, token.text == "TRUE", position)
        if token.is_keyword("NULL"):
            return Literal(LiteralKind.NULL, None, position)
        raise self._unexpected(token)

    def _orderings(self) -> list[Ordering]:
        orderings = []
        while True:
            field = self._field()
            descending = False
            if self._current.is_keyword("ASC", "DESC"):
                descending = self._advance().text == "DESC"
            nulls_last = descending  # Salesforce: ASC puts nulls first, DESC puts them last, unless told
            if self._current.is_keyword("NULLS"):
                self._advance()
                if not self._current.is_keyword("FIRST", "LAST"):
                    raise self._unexpected()
                nulls_last = self._advance().text == "LAST"
            orderings.append(Ordering(field, descending, nulls_last))
            if not (self._current.kind is TokenKind.PUNCTUATION and self._current.text == ","):
                return orderings
            self._advance()
