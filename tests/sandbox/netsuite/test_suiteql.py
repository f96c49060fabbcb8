"""The emulator's SuiteQL parser and evaluator, and the adapter's string quoting against that parser."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.netsuite.wire import suiteql_string
from sandbox.netsuite.suiteql import BoolOp, Call, Column, Compare, Literal, SuiteQLSyntaxError, parse
from sandbox.netsuite.suiteql_eval import SuiteQLError, execute

COLUMNS = {"id", "account", "debit", "credit", "postingperiod", "name", "startdate", "enddate", "closed"}
LINES: list[dict[str, Any]] = [
    {"id": "1", "account": "2", "debit": Decimal("100.00"), "credit": None, "postingperiod": "2"},
    {"id": "2", "account": "6", "debit": None, "credit": Decimal("100.00"), "postingperiod": "2"},
    {"id": "3", "account": "2", "debit": Decimal("0.10"), "credit": None, "postingperiod": "3"},
    {"id": "4", "account": "1", "debit": None, "credit": Decimal("0.10"), "postingperiod": "3"},
    {"id": "10", "account": "2", "debit": Decimal("5"), "credit": None, "postingperiod": "2"},
]


def run(query: str, rows: list[dict[str, Any]] = LINES) -> list[dict[str, Any]]:
    return list(execute(parse(query), COLUMNS, rows))


def test_parses_keywords_case_insensitively_into_a_tree() -> None:
    query = parse(
        "select ID, Sum(debit) As total from TransactionAccountingLine where a = 'x''y' or b != 2 group by id"
    )
    assert query.table == "transactionaccountingline"
    assert query.items[1].expr == Call("SUM", (Column("debit"),)) and query.items[1].alias == "total"
    assert query.where == BoolOp(
        "OR", (Compare("=", Column("a"), Literal("x'y")), Compare("!=", Column("b"), Literal(Decimal(2))))
    )


def test_where_with_and_or_parentheses_and_numbers_against_text_ids() -> None:
    assert [r["id"] for r in run("SELECT id FROM t WHERE postingperiod = 2 AND (account = '2' OR credit > 50)")] == [
        "1",
        "2",
        "10",
    ]
    assert [r["id"] for r in run("SELECT id FROM t WHERE NOT account = 2 ORDER BY id DESC")] == ["4", "2"]
    assert [r["id"] for r in run("SELECT id FROM t WHERE account IN (1, 6) ORDER BY id")] == ["2", "4"]
    assert [r["id"] for r in run("SELECT id FROM t ORDER BY id")] == ["1", "2", "3", "4", "10"]  # numeric order


def test_null_comparisons_are_unknown() -> None:
    assert [r["id"] for r in run("SELECT id FROM t WHERE debit > 1")] == ["1", "10"]
    assert [r["id"] for r in run("SELECT id FROM t WHERE NOT debit > 1")] == ["3"]  # NULL debits stay unknown
    assert [r["id"] for r in run("SELECT id FROM t WHERE debit IS NULL")] == ["2", "4"]


def test_group_by_with_sums_is_exact() -> None:
    rows = run(
        "SELECT postingperiod, SUM(debit) AS debit, SUM(credit) AS credit, COUNT(*) AS n FROM t "
        "GROUP BY postingperiod ORDER BY postingperiod"
    )
    assert rows == [
        {"postingperiod": "2", "debit": Decimal("105.00"), "credit": Decimal("100.00"), "n": Decimal(3)},
        {"postingperiod": "3", "debit": Decimal("0.10"), "credit": Decimal("0.10"), "n": Decimal(2)},
    ]
    assert run("SELECT SUM(debit) FROM t WHERE id = 'none'") == [{"expr1": None}]


def test_dates_between_and_to_date() -> None:
    periods = [
        {"id": "1", "startdate": date(2027, 1, 1), "enddate": date(2027, 1, 31)},
        {"id": "2", "startdate": date(2027, 2, 1), "enddate": date(2027, 2, 28)},
    ]
    query = "SELECT id FROM p WHERE TO_DATE('2027-02-14', 'YYYY-MM-DD') BETWEEN startdate AND enddate"
    assert run(query, periods) == [{"id": "2"}]
    assert run("SELECT id FROM p WHERE startdate >= '2/1/2027'", periods) == [{"id": "2"}]


@pytest.mark.parametrize(
    "query",
    [
        "SELECT FROM t",
        "SELECT id t",
        "SELECT id FROM t WHERE",
        "SELECT id FROM t WHERE a = 'unterminated",
        "SELECT id FROM t WHERE a ~ 1",
        "SELECT DROP(id) FROM t",
        "SELECT id FROM t; DELETE FROM t",
    ],
)
def test_syntax_errors(query: str) -> None:
    with pytest.raises(SuiteQLSyntaxError):
        parse(query)


def test_semantic_errors() -> None:
    with pytest.raises(SuiteQLError, match="Field 'nope'"):
        run("SELECT nope FROM t")
    with pytest.raises(SuiteQLError, match="GROUP BY"):
        run("SELECT id, SUM(debit) FROM t GROUP BY account")


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=40))
def test_adapter_quoting_round_trips_through_the_parser(value: str) -> None:
    query = parse(f"SELECT id FROM customer WHERE custentity_q2c_created_by = {suiteql_string(value)}")
    assert query.where == Compare("=", Column("custentity_q2c_created_by"), Literal(value))
