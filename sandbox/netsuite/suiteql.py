"""A parser for the SuiteQL subset the q2c adapter sends (and a little more), into a small syntax tree.

    query     := SELECT [DISTINCT] (* | item {, item}) FROM table [WHERE cond]
                 [GROUP BY expr {, expr}] [ORDER BY expr [ASC|DESC] {, ...}]
    item      := expr [[AS] alias]
    cond      := and {OR and};  and := not {AND not};  not := NOT not | predicate
    predicate := ( cond ) | expr (= | != | <> | < | <= | > | >=) expr | expr [NOT] BETWEEN expr AND expr
                 | expr [NOT] IN ( expr {, expr} ) | expr [NOT] LIKE expr | expr IS [NOT] NULL
    expr      := 'string' | number | NULL | column | function ( [DISTINCT] expr {, expr} | * )

Functions: SUM, COUNT, MIN, MAX (aggregates), TO_DATE(text, 'YYYY-MM-DD'), UPPER, LOWER. Identifiers are
case-insensitive (NetSuite answers with lower-case column names); strings use '' for a quote.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Union

AGGREGATES = frozenset({"SUM", "COUNT", "MIN", "MAX"})
SCALAR_FUNCTIONS = frozenset({"TO_DATE", "UPPER", "LOWER"})
KEYWORDS = frozenset(
    {"SELECT", "DISTINCT", "FROM", "WHERE", "AND", "OR", "NOT", "BETWEEN", "IN", "IS", "NULL", "LIKE"}
    | {"GROUP", "ORDER", "BY", "ASC", "DESC", "AS"}
)
_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<number>\d+(?:\.\d+)?)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op><>|!=|<=|>=|[=<>(),*]))"
)


class SuiteQLSyntaxError(ValueError):
    pass


@dataclass(frozen=True)
class Token:
    kind: str  # string, number, name, keyword, op, end
    text: str
    position: int


@dataclass(frozen=True)
class Literal:
    value: str | Decimal | date | None


@dataclass(frozen=True)
class Column:
    name: str


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Expr, ...]
    star: bool = False
    distinct: bool = False

    @property
    def is_aggregate(self) -> bool:
        return self.name in AGGREGATES


@dataclass(frozen=True)
class Compare:
    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Between:
    expr: Expr
    low: Expr
    high: Expr
    negated: bool


@dataclass(frozen=True)
class InList:
    expr: Expr
    items: tuple[Expr, ...]
    negated: bool


@dataclass(frozen=True)
class Like:
    expr: Expr
    pattern: Expr
    negated: bool


@dataclass(frozen=True)
class IsNull:
    expr: Expr
    negated: bool


@dataclass(frozen=True)
class BoolOp:
    op: str  # AND, OR
    items: tuple[Condition, ...]


@dataclass(frozen=True)
class Not:
    item: Condition


Expr = Union[Literal, Column, Call]  # noqa: UP007 (a runtime alias used in the dataclasses above)
Condition = Union[Compare, Between, InList, Like, IsNull, BoolOp, Not]  # noqa: UP007


@dataclass(frozen=True)
class SelectItem:
    expr: Expr
    alias: str | None


@dataclass(frozen=True)
class Query:
    items: tuple[SelectItem, ...]  # empty for SELECT *
    table: str
    where: Condition | None = None
    group_by: tuple[Expr, ...] = ()
    order_by: tuple[tuple[Expr, bool], ...] = ()  # (expression, descending)
    distinct: bool = False


def tokenize(text: str) -> list[Token]:
    tokens, position = [], 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if match is None:
            raise SuiteQLSyntaxError(f"unexpected character {text[position:].lstrip()[:1]!r} at {position}")
        kind = match.lastgroup or "op"
        value, start = match.group(kind), match.start(kind)
        if kind == "name" and value.upper() in KEYWORDS:
            kind, value = "keyword", value.upper()
        tokens.append(Token(kind, value, start))
        position = match.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.index = 0

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def fail(self, expected: str) -> SuiteQLSyntaxError:
        token = self.current
        found = "end of query" if token.kind == "end" else repr(token.text)
        return SuiteQLSyntaxError(f"expected {expected} at position {token.position}, found {found}")

    def accept(self, *texts: str) -> Token | None:
        token = self.current
        if token.kind in ("keyword", "op") and token.text in texts:
            self.index += 1
            return token
        return None

    def expect(self, text: str) -> Token:
        token = self.accept(text)
        if token is None:
            raise self.fail(text)
        return token

    def name(self, what: str) -> str:
        token = self.current
        if token.kind != "name":
            raise self.fail(what)
        self.index += 1
        return token.text.lower()

    def query(self) -> Query:
        self.expect("SELECT")
        distinct = self.accept("DISTINCT") is not None
        items: list[SelectItem] = []
        if self.accept("*") is None:
            items.append(self.select_item())
            while self.accept(","):
                items.append(self.select_item())
        self.expect("FROM")
        table = self.name("a table name")
        where = self.condition() if self.accept("WHERE") else None
        group_by: list[Expr] = []
        if self.accept("GROUP"):
            self.expect("BY")
            group_by.append(self.expr())
            while self.accept(","):
                group_by.append(self.expr())
        order_by: list[tuple[Expr, bool]] = []
        if self.accept("ORDER"):
            self.expect("BY")
            while True:
                expr = self.expr()
                descending = self.accept("DESC") is not None
                if not descending:
                    self.accept("ASC")
                order_by.append((expr, descending))
                if not self.accept(","):
                    break
        if self.current.kind != "end":
            raise self.fail("end of query")
        return Query(tuple(items), table, where, tuple(group_by), tuple(order_by), distinct)

    def select_item(self) -> SelectItem:
        expr = self.expr()
        if self.accept("AS"):
            return SelectItem(expr, self.name("an alias"))
        if self.current.kind == "name":
            return SelectItem(expr, self.name("an alias"))
        return SelectItem(expr, None)

    def condition(self) -> Condition:
        items = [self.conjunction()]
        while self.accept("OR"):
            items.append(self.conjunction())
        return items[0] if len(items) == 1 else BoolOp("OR", tuple(items))

    def conjunction(self) -> Condition:
        items = [self.negation()]
        while self.accept("AND"):
            items.append(self.negation())
        return items[0] if len(items) == 1 else BoolOp("AND", tuple(items))

    def negation(self) -> Condition:
        if self.accept("NOT"):
            return Not(self.negation())
        return self.predicate()

    def predicate(self) -> Condition:
        if self.accept("("):
            inner = self.condition()
            self.expect(")")
            return inner
        left = self.expr()
        if self.accept("IS"):
            negated = self.accept("NOT") is not None
            self.expect("NULL")
            return IsNull(left, negated)
        negated = self.accept("NOT") is not None
        if self.accept("BETWEEN"):
            low = self.expr()
            self.expect("AND")
            return Between(left, low, self.expr(), negated)
        if self.accept("IN"):
            self.expect("(")
            items = [self.expr()]
            while self.accept(","):
                items.append(self.expr())
            self.expect(")")
            return InList(left, tuple(items), negated)
        if self.accept("LIKE"):
            return Like(left, self.expr(), negated)
        if negated:
            raise self.fail("BETWEEN, IN or LIKE after NOT")
        op = self.accept("=", "!=", "<>", "<", "<=", ">", ">=")
        if op is None:
            raise self.fail("a comparison operator")
        return Compare("!=" if op.text == "<>" else op.text, left, self.expr())

    def expr(self) -> Expr:
        token = self.current
        if token.kind == "string":
            self.index += 1
            return Literal(token.text[1:-1].replace("''", "'"))
        if token.kind == "number":
            self.index += 1
            return Literal(Decimal(token.text))
        if self.accept("NULL"):
            return Literal(None)
        if token.kind != "name":
            raise self.fail("a column, a literal or a function")
        self.index += 1
        if self.accept("(") is None:
            return Column(token.text.lower())
        function = token.text.upper()
        if function not in AGGREGATES | SCALAR_FUNCTIONS:
            raise SuiteQLSyntaxError(f"unknown function {token.text} at position {token.position}")
        if function == "COUNT" and self.accept("*"):
            self.expect(")")
            return Call(function, (), star=True)
        distinct = function in AGGREGATES and self.accept("DISTINCT") is not None
        args = [self.expr()]
        while self.accept(","):
            args.append(self.expr())
        self.expect(")")
        arity = {"TO_DATE": 2}.get(function, 1)
        if len(args) != arity:
            raise SuiteQLSyntaxError(f"{function} takes {arity} argument(s), not {len(args)}")
        return Call(function, tuple(args), distinct=distinct)


def parse(text: str) -> Query:
    return _Parser(text).query()
