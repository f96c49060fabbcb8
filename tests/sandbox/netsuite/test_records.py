"""The emulator's REST record service and SuiteQL endpoint, spoken to directly: status codes, headers, shapes."""

from __future__ import annotations

import httpx

from tests.sandbox.netsuite.conftest import Emulator


def _error(response: httpx.Response) -> dict[str, object]:
    body = response.json()
    assert set(body) == {"type", "title", "status", "o:errorDetails"} and body["status"] == response.status_code
    detail: dict[str, object] = body["o:errorDetails"][0]
    return detail


async def test_create_read_update_and_upsert(emulator: Emulator) -> None:
    async with emulator.admin() as http:
        created = await http.post("/record/v1/customer", json={"companyName": "Globex", "subsidiary": {"id": 3}})
        assert created.status_code == 204 and created.content == b""
        location = created.headers["Location"]
        assert location.startswith(f"{emulator.base_url}/services/rest/record/v1/customer/")
        customer_id = location.rsplit("/", 1)[-1]

        record = (await http.get(f"/record/v1/customer/{customer_id}")).json()
        assert record["links"] == [{"rel": "self", "href": location}]
        assert record["subsidiary"]["id"] == "3" and record["currency"]["id"] == emulator.ids.currencies["EUR"]
        assert record["isInactive"] is False and record["entityId"] == "Globex"

        patched = await http.patch(
            f"/record/v1/customer/{customer_id}", json={"externalId": "GLOBEX", "email": "x@g.example"}
        )
        assert patched.status_code == 204
        by_eid = (await http.get("/record/v1/customer/eid:GLOBEX")).json()
        assert by_eid["id"] == customer_id and by_eid["email"] == "x@g.example"

        upserted = await http.put("/record/v1/customer/eid:GLOBEX", json={"phone": "555"})
        assert upserted.status_code == 204 and upserted.headers["Location"] == location
        inserted = await http.put(
            "/record/v1/customer/eid:INITECH", json={"companyName": "Initech", "subsidiary": {"id": "1"}}
        )
        assert inserted.headers["Location"] != location

        listing = (await http.get("/record/v1/customer", params={"limit": 1})).json()
        assert (listing["count"], listing["hasMore"], listing["totalResults"], listing["offset"]) == (1, True, 2, 0)
        assert listing["items"][0]["id"] == customer_id
        assert [link["rel"] for link in listing["links"]] == ["self", "next"]


async def test_record_errors_have_netsuites_shape(emulator: Emulator) -> None:
    async with emulator.admin() as http:
        missing = await http.post("/record/v1/customer", json={"subsidiary": {"id": "1"}})
        assert missing.status_code == 400
        assert _error(missing) | {"detail": ""} == {
            "detail": "",
            "o:errorCode": "USER_ERROR",
            "o:errorPath": "companyName",
        }

        unknown_field = await http.post(
            "/record/v1/customer", json={"companyName": "X", "subsidiary": {"id": "1"}, "colour": "red"}
        )
        assert _error(unknown_field)["o:errorPath"] == "colour"

        bad_ref = await http.post(
            "/record/v1/invoice",
            json={
                "entity": {"id": "1"},
                "tranDate": "2027-01-02",
                "item": {"items": [{"item": {"id": "9999"}, "amount": 1}]},
            },
        )
        detail = _error(bad_ref)
        assert detail["o:errorCode"] == "INVALID_CONTENT" and detail["o:errorPath"] in ("entity", "item.items[0].item")

        not_found = await http.get("/record/v1/customer/424242")
        assert not_found.status_code == 404 and _error(not_found)["o:errorCode"] == "NONEXISTENT_ID"
        assert (await http.get("/record/v1/salesWidget/1")).status_code == 404
        assert (await http.put("/record/v1/customer/12", json={})).status_code == 400
        assert (await http.get("/record/v1/customer", params={"limit": 1001})).status_code == 400
        assert (
            _error(await http.get("/record/v1/customer", params={"limit": "many"}))["o:errorCode"]
            == "INVALID_PARAMETER"
        )

    async with emulator.admin() as http:
        http.headers.pop("Authorization")
        unauthenticated = await http.get("/record/v1/customer/1")
    assert unauthenticated.status_code == 401 and _error(unauthenticated)["o:errorCode"] == "INVALID_LOGIN"


async def test_suiteql_endpoint(emulator: Emulator) -> None:
    async with emulator.admin() as http:
        query = {"q": "SELECT id, acctnumber, accttype FROM account WHERE accttype = 'Income' ORDER BY acctnumber"}
        page = await http.post("/query/v1/suiteql", params={"limit": 2}, json=query, headers={"Prefer": "transient"})
        body = page.json()
        assert (body["count"], body["hasMore"], body["totalResults"], body["offset"]) == (2, True, 3, 0)
        assert body["items"][0] == {
            "links": [],
            "id": emulator.ids.accounts["4000"],
            "acctnumber": "4000",
            "accttype": "Income",
        }
        rest = await http.post(
            "/query/v1/suiteql", params={"limit": 2, "offset": 2}, json=query, headers={"Prefer": "transient"}
        )
        assert [i["acctnumber"] for i in rest.json()["items"]] == ["4200"] and not rest.json()["hasMore"]

        assert (await http.post("/query/v1/suiteql", json=query)).status_code == 400  # no Prefer: transient
        bad = await http.post(
            "/query/v1/suiteql", json={"q": "SELECT id FROM nowhere"}, headers={"Prefer": "transient"}
        )
        assert _error(bad)["o:errorCode"] == "INVALID_PARAMETER" and "nowhere" in str(_error(bad)["detail"])


async def test_adapter_reads_every_suiteql_page(emulator: Emulator) -> None:
    async with emulator.erp() as erp:
        erp.client.page_size = 3
        rows = await erp.client.suiteql("SELECT id FROM accountingperiod ORDER BY id")
    assert [r["id"] for r in rows] == [str(n) for n in range(1, 15)]


async def test_money_travels_as_exact_json_numbers(emulator: Emulator) -> None:
    async with emulator.admin() as http:
        await http.put("/record/v1/customer/eid:C1", json={"companyName": "C1", "subsidiary": {"id": "1"}})
        line = '{"item": {"id": "4"}, "quantity": 3, "rate": 0.1}'
        lines = ", ".join([line] * 3)
        body = '{"entity": {"id": "1"}, "tranDate": "2027-03-03", "item": {"items": [' + lines + "]}}"
        created = await http.put(
            "/record/v1/invoice/eid:in_c1", content=body, headers={"Content-Type": "application/json"}
        )
        raw = (await http.get(created.headers["Location"].split("/services/rest")[1])).text
    assert '"total":0.90' in raw and '"amountRemaining":0.90' in raw  # 3 × (3 × 0.1), exactly, as a JSON number
