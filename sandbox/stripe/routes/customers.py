"""Customers: create, retrieve, update, delete (which cancels their subscriptions), list, search."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from sandbox.stripe import objects
from sandbox.stripe.changes import cancel_now
from sandbox.stripe.ids import new_id
from sandbox.stripe.params import EXPAND, SEARCH, Arr, Enum, Int, Metadata, Obj, Str, page_schema
from sandbox.stripe.routes.common import open_records, page, read_params, respond, search_page, searchable_from

router = APIRouter()

ADDRESS = Obj({k: Str() for k in ("city", "country", "line1", "line2", "postal_code", "state")})
FIELDS = {
    "name": Str(256),
    "email": Str(512),
    "description": Str(),
    "phone": Str(20),
    "address": ADDRESS,
    "metadata": Metadata(),
    "tax_exempt": Enum(("exempt", "none", "reverse")),
    "preferred_locales": Arr(Str()),
    "balance": Int(),
    "expand": EXPAND,
}
CREATE = Obj({**FIELDS, "test_clock": Str()})
UPDATE = Obj(FIELDS)
RETRIEVE = Obj({"expand": EXPAND})
LIST = page_schema(email=Str(512), test_clock=Str())
SEARCH_FIELDS = frozenset({"created", "email", "metadata", "name", "phone"})


@router.post("/v1/customers")
async def create_customer(request: Request) -> JSONResponse:
    params = await read_params(request, CREATE)
    async with open_records(request) as records:
        clock = None
        if params.get("test_clock"):
            clock = await records.require("test_helpers.test_clock", params["test_clock"], "test_clock")
        created = int(clock["frozen_time"]) if clock else await records.now_for(None)
        customer = objects.customer(new_id("customer"), created, params, params.get("test_clock"))
        customer["_searchable_at"] = searchable_from(records.settings)
        await records.put(customer)
        await records.emit("customer.created", objects.public(customer), created)
    return respond(objects.public(customer))


@router.get("/v1/customers/search")
async def search_customers(request: Request) -> JSONResponse:
    params = await read_params(request, SEARCH)
    async with open_records(request) as records:
        customers = [c for c in await records.all("customer") if not c.get("_deleted")]
    return respond(search_page(customers, params, "/v1/customers/search", "customers", SEARCH_FIELDS, objects.public))


@router.get("/v1/customers")
async def list_customers(request: Request) -> JSONResponse:
    params = await read_params(request, LIST)
    async with open_records(request) as records:
        customers = [
            c
            for c in await records.all("customer")
            if not c.get("_deleted")
            and (params.get("email") is None or c.get("email") == params["email"])
            # Stripe: "The response will not include customers with test clocks if this parameter is not set."
            and c.get("test_clock") == params.get("test_clock")
        ]
    return respond(page(customers, params, "/v1/customers", objects.public))


@router.get("/v1/customers/{customer_id}")
async def retrieve_customer(request: Request, customer_id: str) -> JSONResponse:
    await read_params(request, RETRIEVE)
    async with open_records(request) as records:
        customer = await records.get("customer", customer_id)
        if customer is not None and customer.get("_deleted"):
            return respond(objects.deleted(customer_id, "customer"))
        customer = await records.require("customer", customer_id)
    return respond(objects.public(customer))


@router.post("/v1/customers/{customer_id}")
async def update_customer(request: Request, customer_id: str) -> JSONResponse:
    params = await read_params(request, UPDATE)
    async with open_records(request) as records:
        customer = await records.require("customer", customer_id)
        previous = {}
        for key, value in params.items():
            if key == "expand":
                continue
            if key == "metadata":
                merged = {} if value is None else {**customer["metadata"], **value}
                value = {k: v for k, v in merged.items() if v != ""}
            elif key == "address" and value is not None:
                value = {**objects.NULL_ADDRESS, **(customer.get("address") or {}), **value}
            previous[key] = customer.get(key)
            customer[key] = (
                value
                if value is not None or key not in ("tax_exempt", "preferred_locales")
                else ("none" if key == "tax_exempt" else [])
            )
        await records.put(customer)
        now = await records.now_for(customer)
        await records.emit("customer.updated", objects.public(customer), now, previous)
    return respond(objects.public(customer))


@router.delete("/v1/customers/{customer_id}")
async def delete_customer(request: Request, customer_id: str) -> JSONResponse:
    async with open_records(request) as records:
        customer = await records.require("customer", customer_id)
        now = await records.now_for(customer)
        for subscription in await records.all("subscription", customer=customer_id):
            if subscription["status"] not in ("canceled", "incomplete_expired"):
                await cancel_now(records, subscription, now)
        customer["_deleted"] = True
        await records.put(customer)
        await records.emit("customer.deleted", objects.public(customer), now)
    return respond(objects.deleted(customer_id, "customer"))
