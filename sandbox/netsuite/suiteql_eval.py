"""Evaluate a parsed SuiteQL query over one table's rows, with SQL's three-valued logic and Oracle-like coercion.

Values are text, Decimal, date or None. A text compared with a number is read as a number (IDs are text here,
numbers in NetSuite); a text compared with a date is read as a date.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sandbox.netsuite.suiteql import (
    Between,
    Call,
    Column,
    Compare,
    Condition,
    Expr,
    InList,
    IsNull,
    Like,
    Literal,
    Not,
    Query,
)

Value = str | Decimal | date | None
Row = dict[str, Any]
_DATE_FORMATS = {"YYYY-MM-DD": "%Y-%m-%d", "MM/DD/YYYY": "%m/%d/%Y", "DD/MM/YYYY": "%d/%m/%Y", "DD.MM.YYYY": "%d.%m.%Y"}


class SuiteQLError(ValueError):
    pass


def _columns_in(node: Any) -> Iterable[str]:
    if isinstance(node, Column):
        yield node.name
    elif isinstance(node, Literal) or node is None:
        return
    else:
        for value in vars(node).values():
            children = value if isinstance(value, tuple) else (value,)
            for child in children:
                if not isinstance(child, str | bool):
                    yield from _columns_in(child)


def _has_aggregate(node: Any) -> bool:
    if isinstance(node, Call):
        return node.is_aggregate or any(_has_aggregate(a) for a in node.args)
    return False


def _to_date(value: Value) -> date | None:
    if value is None or isinstance(value, date):
        return value
    text = str(value)
    for pattern in ("%Y-%m-%d", "%m/%d/%Y"):
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    raise SuiteQLError(f"{text!r} is not a date")


def _to_number(value: Value) -> Decimal | None:
    if value is None or isinstance(value, Decimal):
        return value
    try:
        return Decimal(str(value))
    except InvalidOperation as error:
        raise SuiteQLError(f"{value!r} is not a number") from error


def _comparable(a: Value, b: Value) -> tuple[Any, Any]:
    if isinstance(a, date) or isinstance(b, date):
        return _to_date(a), _to_date(b)
    if isinstance(a, Decimal) or isinstance(b, Decimal):
        try:
            return _to_number(a), _to_number(b)
        except SuiteQLError:
            return str(a), str(b)
    return a, b


def _compare(op: str, a: Value, b: Value) -> bool | None:
    if a is None or b is None:
        return None
    x, y = _comparable(a, b)
    return bool(
        {
            "=": x == y,
            "!=": x != y,
            "<": x < y,
            "<=": x <= y,
            ">": x > y,
            ">=": x >= y,
        }[op]
    )


def evaluate(expr: Expr, row: Row) -> Value:
    if isinstance(expr, Literal):
        return expr.value
    if isinstance(expr, Column):
        value: Value = row.get(expr.name)
        return value
    if expr.is_aggregate:
        raise SuiteQLError(f"{expr.name} is an aggregate; it needs GROUP BY or a query over the whole table")
    args = [evaluate(a, row) for a in expr.args]
    if expr.name == "TO_DATE":
        text, fmt = args
        if text is None:
            return None
        pattern = _DATE_FORMATS.get(str(fmt).upper())
        if pattern is None:
            raise SuiteQLError(f"TO_DATE format {fmt!r} is not supported")
        try:
            return datetime.strptime(str(text), pattern).date()
        except ValueError as error:
            raise SuiteQLError(f"{text!r} does not match the format {fmt}") from error
    value = args[0]
    if value is None:
        return None
    return str(value).upper() if expr.name == "UPPER" else str(value).lower()


def truth(condition: Condition, row: Row) -> bool | None:
    """True, False or unknown (None), as SQL has it."""
    if isinstance(condition, Compare):
        return _compare(condition.op, evaluate(condition.left, row), evaluate(condition.right, row))
    if isinstance(condition, Between):
        value = evaluate(condition.expr, row)
        low = _compare(">=", value, evaluate(condition.low, row))
        high = _compare("<=", value, evaluate(condition.high, row))
        result = _and([low, high])
        return _not(result) if condition.negated else result
    if isinstance(condition, InList):
        value = evaluate(condition.expr, row)
        result = _or([_compare("=", value, evaluate(item, row)) for item in condition.items])
        return _not(result) if condition.negated else result
    if isinstance(condition, Like):
        value, pattern = evaluate(condition.expr, row), evaluate(condition.pattern, row)
        if value is None or pattern is None:
            return None
        regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in str(pattern))
        matched = re.fullmatch(regex, str(value), re.DOTALL) is not None
        return not matched if condition.negated else matched
    if isinstance(condition, IsNull):
        is_null = evaluate(condition.expr, row) is None
        return not is_null if condition.negated else is_null
    if isinstance(condition, Not):
        return _not(truth(condition.item, row))
    results = [truth(item, row) for item in condition.items]
    return _and(results) if condition.op == "AND" else _or(results)


def _not(value: bool | None) -> bool | None:
    return None if value is None else not value


def _and(values: list[bool | None]) -> bool | None:
    if any(v is False for v in values):
        return False
    return None if any(v is None for v in values) else True


def _or(values: list[bool | None]) -> bool | None:
    if any(v is True for v in values):
        return True
    return None if any(v is None for v in values) else False


def _aggregate(expr: Expr, rows: list[Row]) -> Value:
    if not isinstance(expr, Call) or not expr.is_aggregate:
        if isinstance(expr, Call):
            return evaluate(Call(expr.name, tuple(Literal(_aggregate(a, rows)) for a in expr.args)), {})
        return evaluate(expr, rows[0]) if rows else None
    if expr.star:
        return Decimal(len(rows))
    values = [v for v in (evaluate(expr.args[0], row) for row in rows) if v is not None]
    if expr.distinct:
        values = list(dict.fromkeys(values))
    if expr.name == "COUNT":
        return Decimal(len(values))
    if not values:
        return None
    if expr.name == "SUM":
        return sum((_to_number(v) or Decimal(0) for v in values), Decimal(0))
    ordered = sorted(values, key=lambda v: _comparable(v, values[0])[0])
    return ordered[0] if expr.name == "MIN" else ordered[-1]


def output_names(query: Query) -> list[str]:
    names = []
    for position, item in enumerate(query.items, start=1):
        if item.alias:
            names.append(item.alias)
        elif isinstance(item.expr, Column):
            names.append(item.expr.name)
        else:
            names.append(f"expr{position}")
    return names


def execute(query: Query, table_columns: set[str], rows: list[Row]) -> list[dict[str, Value]]:
    referenced = {c for node in (*query.items, query.where, *query.group_by) for c in _columns_in(node)}
    ordered_by = {c for expr, _ in query.order_by for c in _columns_in(expr)}
    aliases = {item.alias for item in query.items if item.alias}
    unknown = sorted((referenced - table_columns) | (ordered_by - table_columns - aliases))
    if unknown:
        raise SuiteQLError(f"Field '{unknown[0]}' for record '{query.table}' was not found.")
    matching = [row for row in rows if query.where is None or truth(query.where, row) is True]
    names = output_names(query)
    grouped = bool(query.group_by) or any(_has_aggregate(item.expr) for item in query.items)
    results: list[tuple[dict[str, Value], list[Row]]] = []
    if not query.items:
        results = [({name: row.get(name) for name in sorted(table_columns)}, [row]) for row in matching]
    elif grouped:
        for item in query.items:
            if not _has_aggregate(item.expr) and item.expr not in query.group_by and not isinstance(item.expr, Literal):
                raise SuiteQLError(f"{names[query.items.index(item)]} is not a GROUP BY expression")
        groups: dict[tuple[Any, ...], list[Row]] = {}
        for row in matching:
            groups.setdefault(tuple(evaluate(g, row) for g in query.group_by), []).append(row)
        if not query.group_by and not groups:
            groups[()] = []
        for members in groups.values():
            results.append(({n: _aggregate(i.expr, members) for n, i in zip(names, query.items, strict=True)}, members))
    else:
        results = [
            ({n: evaluate(i.expr, row) for n, i in zip(names, query.items, strict=True)}, [row]) for row in matching
        ]
    if query.distinct:
        seen: dict[tuple[Any, ...], tuple[dict[str, Value], list[Row]]] = {}
        for out, members in results:
            seen.setdefault(tuple(out.values()), (out, members))
        results = list(seen.values())
    for expr, descending in reversed(query.order_by):
        results.sort(key=lambda pair, e=expr: _sort_key(e, pair, grouped), reverse=descending)  # type: ignore[misc]
    return [out for out, _ in results]


def _sort_key(expr: Expr, pair: tuple[dict[str, Value], list[Row]], grouped: bool) -> tuple[int, int, Any]:
    out, members = pair
    if isinstance(expr, Column) and expr.name in out:
        value = out[expr.name]
    elif grouped:
        value = _aggregate(expr, members)
    else:
        value = evaluate(expr, members[0])
    if value is None:
        return (1, 0, "")  # NULLs last, as Oracle sorts ascending
    if isinstance(value, date):
        return (0, 1, value)
    try:
        return (0, 0, Decimal(str(value)))  # IDs are text here and numbers in NetSuite: sort them as numbers
    except InvalidOperation:
        return (0, 2, str(value))
