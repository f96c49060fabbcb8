"""The emulator's SOQL: the parser's AST, Salesforce's query errors, and queries run against the seeded demo."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandbox.salesforce import soql
from sandbox.salesforce.soql import (
    And,
    Comparison,
    FieldRef,
    Literal,
    LiteralKind,
    Membership,
    Not,
    Or,
    Ordering,
    Position,
    SoqlError,
)
from sandbox.salesforce.wire import loads
from tests.sandbox.salesforce.conftest import API, KeyPair, RunningOrg, emulator_settings, running_org

QUERY = (
    "SELECT Id, Owner.Username, Account.Billing_Contact__r.Email FROM Opportunity "
    "WHERE (StageName = 'Closed Won' OR Amount >= 10.5) AND NOT CloseDate < 2027-01-01 "
    "AND Id NOT IN ('006NW0000000001', '006NW0000000002') ORDER BY CloseDate DESC, Name NULLS LAST LIMIT 5 OFFSET 1"
)


def _at(fragment: str, occurrence: int = 1) -> Position:
    index = -1
    for _ in range(occurrence):
        index = QUERY.index(fragment, index + 1)
    return Position(1, index + 1)


def _field(name: str, occurrence: int = 1) -> FieldRef:
    return FieldRef(tuple(name.split(".")), _at(name, occurrence))


def _literal(kind: LiteralKind, value: object, text: str) -> Literal:
    return Literal(kind, value, _at(text))


def test_select_with_relationship_fields_filters_order_and_limit_parses_into_an_ast():
    query = soql.parse(QUERY)

    assert [f.path for f in query.fields] == [
        ("Id",),
        ("Owner", "Username"),
        ("Account", "Billing_Contact__r", "Email"),
    ]
    assert query.sobject == "Opportunity" and query.limit == 5 and query.offset == 1
    assert query.where == And(
        (
            Or(
                (
                    Comparison(_field("StageName"), "=", _literal(LiteralKind.STRING, "Closed Won", "'Closed Won'")),
                    Comparison(_field("Amount"), ">=", _literal(LiteralKind.NUMBER, Decimal("10.5"), "10.5")),
                )
            ),
            Not(Comparison(_field("CloseDate"), "<", _literal(LiteralKind.DATE, date(2027, 1, 1), "2027-01-01"))),
            Membership(
                FieldRef(("Id",), _at("Id NOT")),
                (
                    _literal(LiteralKind.STRING, "006NW0000000001", "'006NW0000000001'"),
                    _literal(LiteralKind.STRING, "006NW0000000002", "'006NW0000000002'"),
                ),
                negated=True,
            ),
        )
    )
    assert query.order_by == (
        Ordering(_field("CloseDate", 2), descending=True, nulls_last=True),
        Ordering(FieldRef(("Name",), _at("Name NULLS")), descending=False, nulls_last=True),
    )


def test_literals_keywords_and_escapes():
    query = soql.parse(r"select id from Account where Name = 'O\'Brien \\ Sons' and IsActive = TRUE and X__c = null")
    assert isinstance(query.where, And)
    name, active, missing = query.where.operands
    assert isinstance(name, Comparison) and name.value.value == "O'Brien \\ Sons"
    assert isinstance(active, Comparison) and active.value == Literal(LiteralKind.BOOLEAN, True, active.value.position)
    assert isinstance(missing, Comparison) and missing.value.kind is LiteralKind.NULL


@pytest.mark.parametrize(
    ("text", "token"),
    [
        ("SELECT Id FROM Account WHERE Name = 'a' AND Name = 'b' OR Name = 'c'", "OR"),  # AND, OR need parentheses
        ("SELECT Id, FROM Account", "FROM"),
        ("SELECT Id FROM Account LIMIT", "<EOF>"),
        ("SELECT Id FROM Account WHERE Name = ", "<EOF>"),
        ("SELECT Id FROM Account ORDER Name", "Name"),
    ],
)
def test_malformed_queries_name_the_unexpected_token_and_its_column(text: str, token: str):
    column = len(text) + 1 if token == "<EOF>" else text.rindex(token) + 1
    with pytest.raises(SoqlError) as error:
        soql.parse(text)
    assert error.value.code == "MALFORMED_QUERY"
    assert error.value.position == Position(1, column)
    assert error.value.detail == f"unexpected token: '{token}'"


@pytest.fixture(scope="module")
async def demo_org(
    tmp_path_factory: pytest.TempPathFactory, key_pair: KeyPair, seeded_file: Path
) -> AsyncIterator[RunningOrg]:
    """One seeded org for the read-only query tests of this module."""
    path = tmp_path_factory.mktemp("soql") / "salesforce.sqlite"
    path.write_bytes(seeded_file.read_bytes())
    async with running_org(path, emulator_settings(key_pair)) as running:
        yield running


async def _query(org: RunningOrg, text: str) -> httpx.Response:
    async with await org.rest() as rest:
        return await rest.get(f"{API}/query", params={"q": text})


async def _records(org: RunningOrg, text: str) -> list[dict[str, Any]]:
    """Every record the query returns, batch after batch."""
    response = await _query(org, text)
    assert response.status_code == 200, response.text
    body = loads(response.content)
    records = list(body["records"])
    async with await org.rest() as rest:
        while not body["done"]:
            body = loads((await rest.get(body["nextRecordsUrl"])).content)
            records += body["records"]
    assert len(records) == body["totalSize"]
    return records


async def test_filters_compare_strings_case_insensitively_and_dates_numbers_booleans_by_value(demo_org: RunningOrg):
    names = await _records(
        demo_org, "SELECT Name FROM Account WHERE name = 'contoso robotics inc.' OR Payment_Terms_Days__c < 45"
    )
    lines = await _records(
        demo_org,
        "SELECT Line_No__c FROM OpportunityLineItem WHERE Delivered_On__c = 2027-02-15 "
        "OR (Overage_Unit_Price__c > 0.001 AND Overage_Unit_Price__c != null)",
    )
    products = await _records(
        demo_org, "SELECT ProductCode FROM Product2 WHERE IsActive = true AND ProductCode LIKE '%-S%'"
    )

    assert [r["Name"] for r in names] == ["Northwind Analytics Inc.", "Contoso Robotics Inc.", "Fabrikam Labs Inc."]
    assert sorted(r["Line_No__c"] for r in lines) == [Decimal(2), Decimal(3)]
    assert {r["ProductCode"] for r in products} == {"PLAT-SEAT", "ONB-STD"}


async def test_ids_match_in_either_form_and_relationships_nest_with_their_own_attributes(demo_org: RunningOrg):
    records = await _records(
        demo_org,
        "SELECT Id, Account.Name, Account.Billing_Contact__r.Email, Owner.Username FROM Opportunity "
        "WHERE Id IN ('006NW0000000001', '006NW0000000004YAA') ORDER BY Name DESC",
    )

    assert [r["Id"] for r in records] == ["006NW0000000001YAA", "006NW0000000004YAA"]
    northwind, fabrikam = records
    assert northwind["Account"] == {
        "attributes": {"type": "Account", "url": "/services/data/v61.0/sobjects/Account/001NW0000000001YAA"},
        "Name": "Northwind Analytics Inc.",
        "Billing_Contact__r": {
            "attributes": {"type": "Contact", "url": northwind["Account"]["Billing_Contact__r"]["attributes"]["url"]},
            "Email": "ap@northwind.example",
        },
    }
    assert fabrikam["Account"]["Billing_Contact__r"] is None
    assert fabrikam["Owner"]["Username"] == "sam.seller"


async def test_order_by_with_nulls_limit_and_offset(demo_org: RunningOrg):
    ordered = await _records(
        demo_org, "SELECT Line_No__c, UnitPrice FROM OpportunityLineItem ORDER BY UnitPrice DESC NULLS LAST, Line_No__c"
    )
    page = await _records(demo_org, "SELECT Name FROM Account ORDER BY Name LIMIT 1 OFFSET 1")

    assert [r["UnitPrice"] for r in ordered] == [Decimal("95"), Decimal("90"), Decimal("70"), None, None]
    assert page == [{"attributes": page[0]["attributes"], "Name": "Fabrikam Labs Inc."}]


async def test_a_large_result_comes_in_batches_through_next_records_url(demo_org: RunningOrg):
    first = loads((await _query(demo_org, "SELECT Id FROM OpportunityLineItem ORDER BY Id")).content)
    async with await demo_org.rest() as rest:
        second = loads((await rest.get(first["nextRecordsUrl"])).content)
        third = loads((await rest.get(second["nextRecordsUrl"])).content)
        unknown = await rest.get(f"{API}/query/01gDn0000000000AAA-2")

    assert first["totalSize"] == 5 and first["done"] is False and len(first["records"]) == 2
    assert first["nextRecordsUrl"].startswith(f"{API}/query/01g") and first["nextRecordsUrl"].endswith("-2")
    assert second["nextRecordsUrl"].endswith("-4") and third["done"] is True and "nextRecordsUrl" not in third
    ids = [r["Id"] for r in first["records"] + second["records"] + third["records"]]
    assert ids == sorted(ids) and len(set(ids)) == 5
    assert unknown.status_code == 400 and unknown.json()[0]["errorCode"] == "INVALID_QUERY_LOCATOR"


@pytest.mark.parametrize(
    ("text", "code", "detail"),
    [
        ("SELECT Id, Foo FROM Account", "INVALID_FIELD", "No such column 'Foo' on entity 'Account'."),
        ("SELECT Id, Account.Nmae FROM Contact", "INVALID_FIELD", "No such column 'Nmae' on entity 'Account'."),
        ("SELECT Id, Acount.Name FROM Contact", "INVALID_FIELD", "Didn't understand relationship 'Acount'"),
        ("SELECT Id FROM Acount", "INVALID_TYPE", "sObject type 'Acount' is not supported."),
        ("SELECT Id FROM Opportunity WHERE CloseDate = '2027-01-01'", "INVALID_FIELD", "must be of type date"),
        ("SELECT Id FROM Opportunity WHERE Id = 'bogus'", "INVALID_QUERY_FILTER_OPERATOR", "invalid ID field: bogus"),
        ("SELECT Id, Name, name FROM Account", "MALFORMED_QUERY", "duplicate field selected: name"),
        ("SELECT Id FROM Account WHERE Name = 'a' AND Name = 'b' OR Name = 'c'", "MALFORMED_QUERY", "unexpected token"),
    ],
)
async def test_bad_queries_get_salesforce_errors(demo_org: RunningOrg, text: str, code: str, detail: str):
    response = await _query(demo_org, text)

    assert response.status_code == 400
    [error] = response.json()
    assert error["errorCode"] == code
    assert detail in error["message"]
    assert "ERROR at Row:1:Column:" in error["message"]
