"""Stripe's search query language (the subset q2c and its tests use), parsed into a predicate.

    query   := clause ((AND | OR) clause)*        AND and OR may not be mixed; at most 10 clauses
    clause  := ['-'] field op value
    field   := name | metadata['key'] | metadata["key"]
    op      := ':' (exact, case-insensitive) | '~' (substring, 3+ chars) | '>' | '<' | '>=' | '<=' (numbers)
    value   := 'text' | "text" | integer

Each resource names the fields it can be searched by; any other field is refused, as Stripe does.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sandbox.stripe.errors import invalid

Obj = dict[str, Any]
Predicate = Callable[[Obj], bool]

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<neg>-)?(?P<field>metadata\[(?:'[^']*'|"[^"]*")\]|[a-z_.]+)
        \s*(?P<op>>=|<=|:|~|>|<)\s*
        (?P<value>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|-?\d+|null)
      | (?P<joiner>AND|OR)
    )""",
    re.VERBOSE,
)
PARSE_ERROR = (
    'We were unable to parse your search query. Try using the format `metadata["key"]:"value"` to query '
    'for metadata or `key:"value"` to query for other fields.'
)


@dataclass(frozen=True)
class Clause:
    negated: bool
    field: str
    metadata_key: str | None
    op: str
    value: str | int | None

    def matches(self, obj: Obj) -> bool:
        actual = (obj.get("metadata") or {}).get(self.metadata_key) if self.metadata_key else _dig(obj, self.field)
        result = _compare(actual, self.op, self.value)
        return not result if self.negated else result


def _dig(obj: Obj, dotted: str) -> Any:
    value: Any = obj
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _compare(actual: Any, op: str, expected: str | int | None) -> bool:
    if expected is None:
        return actual is None
    if op in (":", "~"):
        if actual is None:
            return False
        if op == "~":
            return str(expected).lower() in str(actual).lower()
        if isinstance(actual, bool):
            return str(actual).lower() == str(expected).lower()
        return str(actual).lower() == str(expected).lower()
    if not isinstance(actual, int | float) or not isinstance(expected, int):
        return False
    return {">": actual > expected, "<": actual < expected, ">=": actual >= expected, "<=": actual <= expected}[op]


def parse_query(query: str, resource: str, fields: frozenset[str]) -> Predicate:
    position, clauses, joiners = 0, [], set()
    expect_clause = True
    text = query.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise invalid(PARSE_ERROR, "query")
        position = match.end()
        if match.group("joiner"):
            if expect_clause:
                raise invalid(PARSE_ERROR, "query")
            joiners.add(match.group("joiner"))
            expect_clause = True
            continue
        if not expect_clause:
            raise invalid(PARSE_ERROR, "query")
        clauses.append(_clause(match, resource, fields))
        expect_clause = False
    if not clauses or expect_clause:
        raise invalid(PARSE_ERROR, "query")
    if len(joiners) > 1:
        raise invalid("Search queries cannot combine `AND` and `OR` clauses.", "query")
    if len(clauses) > 10:
        raise invalid("Search queries can have at most 10 clauses.", "query")
    if joiners == {"OR"}:
        return lambda obj: any(c.matches(obj) for c in clauses)
    return lambda obj: all(c.matches(obj) for c in clauses)


def _clause(match: re.Match[str], resource: str, fields: frozenset[str]) -> Clause:
    field, op, raw = match.group("field"), match.group("op"), match.group("value")
    metadata_key = None
    if field.startswith("metadata["):
        metadata_key, field = field[10:-2], "metadata"
    if field not in fields:
        raise invalid(
            f"Field `{field}` is an unsupported search field for resource `{resource}`. See "
            f"http://stripe.com/docs/search#query-fields-for-{resource} for a list of supported fields.",
            "query",
        )
    value: str | int | None
    if raw == "null":
        value = None
    elif raw[0] in "'\"":
        value = re.sub(r"\\(.)", r"\1", raw[1:-1])
    else:
        value = int(raw)
    if op == "~" and (not isinstance(value, str) or len(value) < 3):
        raise invalid("Substring search (`~`) needs a string of at least 3 characters.", "query")
    return Clause(bool(match.group("neg")), field, metadata_key, op, value)
