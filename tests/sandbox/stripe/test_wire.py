"""The wire format itself: form encoding, the search grammar, error bodies, idempotency races, rate limits."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from sandbox.stripe.errors import StripeError
from sandbox.stripe.forms import parse_form
from sandbox.stripe.params import Arr, Int, Metadata, Obj, Str
from sandbox.stripe.search import parse_query

from .conftest import API_KEY, Emulator

AUTH = {"Authorization": f"Bearer {API_KEY}"}


def test_form_brackets_become_nested_objects_and_indexed_arrays() -> None:
    raw = "items[0][price]=price_1&items[0][quantity]=2&items[1][price]=price_2&metadata[a]=1&expand[]=x&expand[]=y"
    schema = Obj({"items": Arr(Obj({"price": Str(), "quantity": Int()})), "metadata": Metadata(), "expand": Arr(Str())})

    assert schema.validate(parse_form(raw)) == {
        "items": [{"price": "price_1", "quantity": 2}, {"price": "price_2"}],
        "metadata": {"a": "1"},
        "expand": ["x", "y"],
    }
    assert schema.validate(parse_form("metadata[0]=zero"))["metadata"] == {"0": "zero"}  # a key, not an index
    assert schema.validate(parse_form("metadata="))["metadata"] is None  # an empty string unsets


@pytest.mark.parametrize(
    ("raw", "param", "message"),
    [
        ("items[0][quantity]=two", "items[0][quantity]", "Invalid integer: two"),
        ("items[0][colour]=red", "items[0][colour]", "Received unknown parameter: items[0][colour]"),
        ("items=oops", "items", "Invalid array"),
    ],
)
def test_bad_parameters_are_named_in_bracket_form(raw: str, param: str, message: str) -> None:
    schema = Obj({"items": Arr(Obj({"price": Str(), "quantity": Int()}))})

    with pytest.raises(StripeError) as raised:
        schema.validate(parse_form(raw))

    assert raised.value.param == param and raised.value.message.startswith(message)


def test_the_search_grammar() -> None:
    fields = frozenset({"metadata", "email", "created", "name"})
    doc = {"metadata": {"crm_account_id": "001A"}, "email": "AP@x.example", "created": 100, "name": "Northwind"}

    assert parse_query("metadata['crm_account_id']:'001A'", "customers", fields)(doc)
    assert parse_query('metadata["crm_account_id"]:"001A" AND email:\'ap@x.example\'', "customers", fields)(doc)
    assert parse_query("name~'wind' AND created>99 AND -email:'other@x.example'", "customers", fields)(doc)
    assert parse_query("email:'nope@x.example' OR created<=100", "customers", fields)(doc)
    assert not parse_query("metadata['crm_account_id']:'001B'", "customers", fields)(doc)
    for bad in ("email:'a' AND name:'b' OR created>1", "colour:'red'", "email:", "AND email:'a'"):
        with pytest.raises(StripeError) as raised:
            parse_query(bad, "customers", fields)
        assert raised.value.param == "query"


async def test_an_unknown_url_and_a_json_body_get_stripes_errors(emulator: Emulator) -> None:
    async with httpx.AsyncClient(base_url=emulator.url, headers=AUTH) as http:
        unknown = await http.get("/v1/nothing_here")
        as_json = await http.post("/v1/customers", json={"name": "JSON"})

    assert unknown.status_code == 404 and unknown.json()["error"]["type"] == "invalid_request_error"
    assert "Unrecognized request URL (GET: /v1/nothing_here)" in unknown.json()["error"]["message"]
    assert as_json.status_code == 400 and "form-encoded" in as_json.json()["error"]["message"]
    assert unknown.headers["request-id"].startswith("req_")


async def test_concurrent_requests_with_one_key_create_once(emulator: Emulator) -> None:
    key = f"race-{time.time_ns()}"
    async with httpx.AsyncClient(base_url=emulator.url, headers={**AUTH, "Idempotency-Key": key}) as http:
        responses = await asyncio.gather(
            *(http.post("/v1/customers", data={"name": "Race", "metadata[race]": key}) for _ in range(5))
        )
        found = await http.get("/v1/customers/search", params={"query": f"metadata['race']:'{key}'"})

    ok = [r for r in responses if r.status_code == 200]
    conflicts = [r for r in responses if r.status_code == 409]
    assert len(ok) + len(conflicts) == 5 and ok
    assert len({r.json()["id"] for r in ok}) == 1
    assert all(r.json()["error"]["code"] == "idempotency_key_in_use" for r in conflicts)
    assert all(r.headers["stripe-should-retry"] == "true" for r in conflicts)
    assert len(found.json()["data"]) == 1


async def test_an_injected_server_error_stores_nothing_under_the_key(emulator: Emulator) -> None:
    from sandbox.faults import FaultConfig, FaultRule

    key = f"fault-{time.time_ns()}"
    emulator.faults.configure(FaultConfig(rules=[FaultRule(kind="error", rate=1.0, status=500, method="POST")]))
    async with httpx.AsyncClient(base_url=emulator.url, headers={**AUTH, "Idempotency-Key": key}) as http:
        failed = await http.post("/v1/customers", data={"name": "Later"})
        emulator.faults.configure(FaultConfig())
        retried = await http.post("/v1/customers", data={"name": "Later"})

    assert failed.status_code == 500 and failed.json()["error"]["type"] == "api_error"
    assert retried.status_code == 200 and retried.json()["object"] == "customer"


async def test_tiers_are_shown_only_when_expanded(emulator: Emulator) -> None:
    form = {
        "currency": "usd",
        "product": "api_overage_metered",
        "billing_scheme": "tiered",
        "tiers_mode": "graduated",
        "tiers[0][up_to]": "1000",
        "tiers[0][unit_amount_decimal]": "0",
        "tiers[1][up_to]": "inf",
        "tiers[1][unit_amount_decimal]": "0.2",
        "recurring[interval]": "month",
        "recurring[usage_type]": "metered",
        "recurring[meter]": emulator.meter_id,
    }
    async with httpx.AsyncClient(base_url=emulator.url, headers=AUTH) as http:
        created = (await http.post("/v1/prices", data=form)).json()
        plain = (await http.get(f"/v1/prices/{created['id']}")).json()
        expanded = (await http.get(f"/v1/prices/{created['id']}", params={"expand[]": "tiers"})).json()

    assert "tiers" not in created and "tiers" not in plain
    assert expanded["tiers"] == [
        {"flat_amount": None, "flat_amount_decimal": None, "unit_amount": 0, "unit_amount_decimal": "0", "up_to": 1000},
        {
            "flat_amount": None,
            "flat_amount_decimal": None,
            "unit_amount": None,
            "unit_amount_decimal": "0.2",
            "up_to": None,
        },
    ]
    assert created["unit_amount"] is None and created["recurring"]["meter"] == emulator.meter_id
