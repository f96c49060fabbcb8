"""Products and prices: the catalog subscriptions are built from."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from canonical.currencies import is_known_currency
from sandbox.stripe import objects
from sandbox.stripe.errors import StripeError, invalid, missing_param
from sandbox.stripe.ids import new_id
from sandbox.stripe.params import EXPAND, SEARCH, Arr, Bool, Dec, Enum, Int, IntOr, Metadata, Obj, Str, page_schema
from sandbox.stripe.records import Records
from sandbox.stripe.routes.common import (
    expansions,
    open_records,
    page,
    read_params,
    respond,
    search_page,
    searchable_from,
)

router = APIRouter()

PRODUCT_FIELDS = {
    "name": Str(),
    "active": Bool(),
    "description": Str(40000),
    "metadata": Metadata(),
    "statement_descriptor": Str(22),
    "tax_code": Str(),
    "unit_label": Str(12),
    "url": Str(),
    "images": Arr(Str()),
    "expand": EXPAND,
}
PRODUCT_CREATE = Obj({**PRODUCT_FIELDS, "id": Str()}, required=("name",))
PRODUCT_UPDATE = Obj(PRODUCT_FIELDS)
PRODUCT_LIST = page_schema(active=Bool(), ids=Arr(Str()), url=Str())
RETRIEVE = Obj({"expand": EXPAND})
PRODUCT_SEARCH_FIELDS = frozenset({"active", "created", "description", "metadata", "name", "url"})

TIER = Obj(
    {
        "up_to": IntOr(("inf",)),
        "unit_amount": Int(minimum=0),
        "unit_amount_decimal": Dec(),
        "flat_amount": Int(0),
        "flat_amount_decimal": Dec(),
    },
    required=("up_to",),
)
RECURRING = Obj(
    {
        "interval": Enum(("day", "month", "week", "year")),
        "interval_count": Int(minimum=1),
        "usage_type": Enum(("licensed", "metered")),
        "meter": Str(),
        "trial_period_days": Int(minimum=1),
    },
    required=("interval",),
)
PRICE_CREATE = Obj(
    {
        "currency": Str(3),
        "product": Str(),
        "product_data": Obj(
            {"name": Str(), "id": Str(), "active": Bool(), "metadata": Metadata(), "unit_label": Str(12)},
            required=("name",),
        ),
        "unit_amount": Int(minimum=0),
        "unit_amount_decimal": Dec(),
        "recurring": RECURRING,
        "billing_scheme": Enum(("per_unit", "tiered")),
        "tiers": Arr(TIER),
        "tiers_mode": Enum(("graduated", "volume")),
        "lookup_key": Str(200),
        "transfer_lookup_key": Bool(),
        "nickname": Str(),
        "metadata": Metadata(),
        "tax_behavior": Enum(("exclusive", "inclusive", "unspecified")),
        "active": Bool(),
        "expand": EXPAND,
    },
    required=("currency",),
)
PRICE_UPDATE = Obj(
    {
        "active": Bool(),
        "metadata": Metadata(),
        "nickname": Str(),
        "lookup_key": Str(200),
        "transfer_lookup_key": Bool(),
        "tax_behavior": Enum(("exclusive", "inclusive", "unspecified")),
        "expand": EXPAND,
    }
)
PRICE_LIST = page_schema(
    active=Bool(),
    product=Str(),
    currency=Str(3),
    type=Enum(("one_time", "recurring")),
    lookup_keys=Arr(Str(200)),
    recurring=Obj({"interval": Str(), "usage_type": Str(), "meter": Str()}),
)
PRICE_SEARCH_FIELDS = frozenset({"active", "currency", "lookup_key", "metadata", "product", "type", "created"})


# --- products ---------------------------------------------------------------------------------------------


@router.post("/v1/products")
async def create_product(request: Request) -> JSONResponse:
    params = await read_params(request, PRODUCT_CREATE)
    async with open_records(request) as records:
        product_id = params.get("id") or new_id("product")
        if await records.get("product", product_id) is not None:
            raise StripeError(400, "Product already exists.", code="resource_already_exists", param="id")
        created = await records.now_for(None)
        product = objects.product(product_id, created, params)
        product["_searchable_at"] = searchable_from(records.settings)
        await records.put(product)
        await records.emit("product.created", objects.public(product), created)
    return respond(objects.public(product))


@router.get("/v1/products/search")
async def search_products(request: Request) -> JSONResponse:
    params = await read_params(request, SEARCH)
    async with open_records(request) as records:
        products = [p for p in await records.all("product") if not p.get("_deleted")]
    return respond(
        search_page(products, params, "/v1/products/search", "products", PRODUCT_SEARCH_FIELDS, objects.public)
    )


@router.get("/v1/products")
async def list_products(request: Request) -> JSONResponse:
    params = await read_params(request, PRODUCT_LIST)
    async with open_records(request) as records:
        products = [
            p
            for p in await records.all("product")
            if not p.get("_deleted")
            and (params.get("active") is None or p["active"] == params["active"])
            and (not params.get("ids") or p["id"] in params["ids"])
        ]
    return respond(page(products, params, "/v1/products", objects.public))


@router.get("/v1/products/{product_id}")
async def retrieve_product(request: Request, product_id: str) -> JSONResponse:
    await read_params(request, RETRIEVE)
    async with open_records(request) as records:
        product = await records.require("product", product_id)
    return respond(objects.public(product))


@router.post("/v1/products/{product_id}")
async def update_product(request: Request, product_id: str) -> JSONResponse:
    params = await read_params(request, PRODUCT_UPDATE)
    async with open_records(request) as records:
        product = await records.require("product", product_id)
        previous = _apply_updates(product, params)
        product["updated"] = await records.now_for(None)
        await records.put(product)
        await records.emit("product.updated", objects.public(product), product["updated"], previous)
    return respond(objects.public(product))


@router.delete("/v1/products/{product_id}")
async def delete_product(request: Request, product_id: str) -> JSONResponse:
    async with open_records(request) as records:
        product = await records.require("product", product_id)
        if await records.all("price", product=product_id):
            raise StripeError(400, "This product cannot be deleted because it has one or more user-created prices.")
        product["_deleted"] = True
        await records.put(product)
        await records.emit("product.deleted", objects.public(product), await records.now_for(None))
    return respond(objects.deleted(product_id, "product"))


def _apply_updates(document: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    previous: dict[str, Any] = {}
    for key, value in params.items():
        if key == "expand":
            continue
        if key == "metadata":
            merged = {} if value is None else {**document["metadata"], **value}
            value = {k: v for k, v in merged.items() if v != ""}
        previous[key] = document.get(key)
        document[key] = value
    return previous


# --- prices -----------------------------------------------------------------------------------------------


@router.post("/v1/prices")
async def create_price(request: Request) -> JSONResponse:
    params = await read_params(request, PRICE_CREATE)
    async with open_records(request) as records:
        await _check_price(records, params)
        created = await records.now_for(None)
        if params.get("product_data"):
            data = params.pop("product_data")
            product = objects.product(data.get("id") or new_id("product"), created, data)
            await records.put(product)
            params["product"] = product["id"]
        if params.get("lookup_key"):
            await _claim_lookup_key(records, params["lookup_key"], bool(params.get("transfer_lookup_key")))
        params["_tiers"] = _tiers(params)
        price = objects.price(new_id("price"), created, params)
        price["_searchable_at"] = searchable_from(records.settings)
        await records.put(price)
        await records.emit("price.created", objects.public(price), created)
    return respond(objects.render_price(price, expansions(params)))


async def _check_price(records: Records, params: dict[str, Any]) -> None:
    currency = params["currency"]
    if not is_known_currency(currency.upper()) or currency != currency.lower():
        raise StripeError(
            400,
            f"Invalid currency: {currency}. Stripe currently supports these currencies: usd, "
            "eur, gbp, ... (lowercase ISO codes).",
            param="currency",
            validation=True,
        )
    if params.get("product") and params.get("product_data"):
        raise invalid("You may only specify one of these parameters: product, product_data.", "product")
    if not params.get("product") and not params.get("product_data"):
        raise missing_param("product")
    if params.get("product"):
        await records.require("product", params["product"], "product")
    if params.get("unit_amount") is not None and params.get("unit_amount_decimal") is not None:
        raise invalid("You may only specify one of these parameters: unit_amount, unit_amount_decimal.", "unit_amount")
    decimal = params.get("unit_amount_decimal")
    if decimal is not None and (decimal < 0 or -int(decimal.as_tuple().exponent) > 12):
        raise invalid(
            "Invalid decimal: unit_amount_decimal must be non-negative with at most 12 decimal places",
            "unit_amount_decimal",
        )
    recurring = params.get("recurring") or {}
    if recurring.get("usage_type") == "metered":
        if not recurring.get("meter"):
            raise missing_param("recurring[meter]")
        meter = await records.get("billing.meter", recurring["meter"])
        if meter is None:
            raise StripeError(
                400,
                f"No such meter: '{recurring['meter']}'",
                code="resource_missing",
                param="recurring[meter]",
                validation=True,
            )
    elif recurring.get("meter"):
        raise invalid("A meter can only be set on prices with `recurring[usage_type]=metered`.", "recurring[meter]")
    if (params.get("billing_scheme") or "per_unit") == "tiered":
        _check_tiers(params)
    elif params.get("tiers"):
        raise invalid("Tiers can only be set when `billing_scheme=tiered`.", "tiers")
    elif params.get("unit_amount") is None and decimal is None:
        raise invalid(
            "Missing required param: unit_amount (or unit_amount_decimal).", "unit_amount", "parameter_missing"
        )


def _check_tiers(params: dict[str, Any]) -> None:
    tiers = params.get("tiers") or []
    if not tiers:
        raise missing_param("tiers")
    if not params.get("tiers_mode"):
        raise missing_param("tiers_mode")
    if params.get("unit_amount") is not None or params.get("unit_amount_decimal") is not None:
        raise invalid("`unit_amount` cannot be set on a tiered price; set it on each tier.", "unit_amount")
    previous = 0
    for index, tier in enumerate(tiers):
        up_to = tier["up_to"]
        last = index == len(tiers) - 1
        if last != (up_to == "inf"):
            raise invalid("The last tier must have `up_to=inf`, and only the last.", f"tiers[{index}][up_to]")
        if up_to != "inf" and (not isinstance(up_to, int) or up_to <= previous):
            raise invalid(
                "Tiers must be sorted by `up_to`, each above the previous one and above 0.", f"tiers[{index}][up_to]"
            )
        if isinstance(up_to, int):
            previous = up_to
        if tier.get("unit_amount") is not None and tier.get("unit_amount_decimal") is not None:
            raise invalid(
                "You may only specify one of these parameters: unit_amount, unit_amount_decimal.",
                f"tiers[{index}][unit_amount]",
            )


def _tiers(params: dict[str, Any]) -> list[dict[str, Any]]:
    result = []
    for tier in params.get("tiers") or []:
        unit = tier.get("unit_amount_decimal")
        if unit is None and tier.get("unit_amount") is not None:
            unit = Decimal(tier["unit_amount"])
        flat = tier.get("flat_amount_decimal")
        if flat is None and tier.get("flat_amount") is not None:
            flat = Decimal(tier["flat_amount"])
        result.append(
            {
                "flat_amount": None if flat is None or flat != int(flat) else int(flat),
                "flat_amount_decimal": None if flat is None else objects.decimal_text(flat),
                "unit_amount": None if unit is None or unit != int(unit) else int(unit),
                "unit_amount_decimal": None if unit is None else objects.decimal_text(unit),
                "up_to": None if tier["up_to"] == "inf" else tier["up_to"],
            }
        )
    return result


async def _claim_lookup_key(records: Records, key: str, transfer: bool, own: str | None = None) -> None:
    for other in await records.all("price", lookup_key=key):
        if other["id"] == own:
            continue
        if not transfer:
            raise StripeError(
                400,
                f"A price (`{other['id']}`) already uses that lookup key. Set `transfer_lookup_key=true` to move "
                "the lookup key to this price.",
                param="lookup_key",
                validation=True,
            )
        other["lookup_key"] = None
        await records.put(other)


@router.get("/v1/prices/search")
async def search_prices(request: Request) -> JSONResponse:
    params = await read_params(request, SEARCH)
    async with open_records(request) as records:
        prices = await records.all("price")
    return respond(
        search_page(
            prices,
            params,
            "/v1/prices/search",
            "prices",
            PRICE_SEARCH_FIELDS,
            lambda p: objects.render_price(p, expansions(params), "data."),
        )
    )


@router.get("/v1/prices")
async def list_prices(request: Request) -> JSONResponse:
    params = await read_params(request, PRICE_LIST)
    recurring = params.get("recurring") or {}
    async with open_records(request) as records:
        prices = [
            p
            for p in await records.all("price")
            if (params.get("active") is None or p["active"] == params["active"])
            and (params.get("product") is None or p["product"] == params["product"])
            and (params.get("currency") is None or p["currency"] == params["currency"])
            and (params.get("type") is None or p["type"] == params["type"])
            and (not params.get("lookup_keys") or p["lookup_key"] in params["lookup_keys"])
            and all((p["recurring"] or {}).get(k) == v for k, v in recurring.items())
        ]
    return respond(page(prices, params, "/v1/prices", lambda p: objects.render_price(p, expansions(params), "data.")))


@router.get("/v1/prices/{price_id}")
async def retrieve_price(request: Request, price_id: str) -> JSONResponse:
    params = await read_params(request, RETRIEVE)
    async with open_records(request) as records:
        price = await records.require("price", price_id)
    return respond(objects.render_price(price, expansions(params)))


@router.post("/v1/prices/{price_id}")
async def update_price(request: Request, price_id: str) -> JSONResponse:
    params = await read_params(request, PRICE_UPDATE)
    async with open_records(request) as records:
        price = await records.require("price", price_id)
        if params.get("lookup_key"):
            transfer = bool(params.pop("transfer_lookup_key", False))
            await _claim_lookup_key(records, params["lookup_key"], transfer, price_id)
        params.pop("transfer_lookup_key", None)
        previous = _apply_updates(price, params)
        await records.put(price)
        await records.emit("price.updated", objects.public(price), await records.now_for(None), previous)
    return respond(objects.render_price(price, expansions(params)))
