"""Stripe's object shapes, key for key as in its example objects (fixtures3.json, current API version).

Builders return the public object; stored documents may carry extra private fields prefixed with `_`, which
`public()` strips before a response. Where the emulator deliberately differs from fixtures3.json (fields that
fixture lists but the API removed, fields it omits but the API returns), the fidelity test lists the reason.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

Obj = dict[str, Any]

NULL_ADDRESS: Obj = {"city": None, "country": None, "line1": None, "line2": None, "postal_code": None, "state": None}


def public(document: Obj) -> Obj:
    """The object without the emulator's private `_` fields, at any depth."""
    return {k: _public_value(v) for k, v in document.items() if not k.startswith("_")}


def _public_value(value: Any) -> Any:
    if isinstance(value, dict):
        return public(value)
    if isinstance(value, list):
        return [_public_value(v) for v in value]
    return value


def list_object(data: list[Obj], url: str, has_more: bool = False) -> Obj:
    return {"object": "list", "data": data, "has_more": has_more, "url": url}


def search_result(data: list[Obj], url: str, has_more: bool, next_page: str | None, total: int | None) -> Obj:
    result: Obj = {"object": "search_result", "data": data, "has_more": has_more, "next_page": next_page, "url": url}
    if total is not None:
        result["total_count"] = total
    return result


def deleted(object_id: str, object_type: str) -> Obj:
    return {"id": object_id, "object": object_type, "deleted": True}


def customer(object_id: str, created: int, params: Obj, test_clock: str | None) -> Obj:
    address = params.get("address")
    return {
        "id": object_id,
        "object": "customer",
        "address": {**NULL_ADDRESS, **address} if address else None,
        "balance": params.get("balance") or 0,
        "created": created,
        "currency": None,
        "default_source": None,
        "delinquent": False,
        "description": params.get("description"),
        "discount": None,
        "email": params.get("email"),
        "invoice_prefix": object_id[4:11].upper(),
        "invoice_settings": {
            "custom_fields": None,
            "default_payment_method": None,
            "footer": None,
            "rendering_options": None,
        },
        "livemode": False,
        "metadata": params.get("metadata") or {},
        "name": params.get("name"),
        "next_invoice_sequence": 1,
        "phone": params.get("phone"),
        "preferred_locales": params.get("preferred_locales") or [],
        "shipping": None,
        "tax_exempt": params.get("tax_exempt") or "none",
        "test_clock": test_clock,
    }


def product(object_id: str, created: int, params: Obj) -> Obj:
    return {
        "id": object_id,
        "object": "product",
        "active": params.get("active", True) is not False,
        "created": created,
        "default_price": None,
        "description": params.get("description"),
        "images": params.get("images") or [],
        "livemode": False,
        "marketing_features": [],
        "metadata": params.get("metadata") or {},
        "name": params["name"],
        "package_dimensions": None,
        "shippable": None,
        "statement_descriptor": params.get("statement_descriptor"),
        "tax_code": params.get("tax_code"),
        "type": "service",
        "unit_label": params.get("unit_label"),
        "updated": created,
        "url": params.get("url"),
    }


def price(object_id: str, created: int, params: Obj) -> Obj:
    """A price; `tiers` is stored privately and shown only when expanded (`expand[]=tiers`), as Stripe does."""
    recurring = params.get("recurring")
    amount = params.get("unit_amount_decimal")
    if amount is None and params.get("unit_amount") is not None:
        amount = params["unit_amount"]
    whole = amount is not None and int(amount) == amount
    return {
        "id": object_id,
        "object": "price",
        "active": params.get("active", True) is not False,
        "billing_scheme": params.get("billing_scheme") or "per_unit",
        "created": created,
        "currency": params["currency"].lower(),
        "custom_unit_amount": None,
        "livemode": False,
        "lookup_key": params.get("lookup_key"),
        "metadata": params.get("metadata") or {},
        "nickname": params.get("nickname"),
        "product": params["product"],
        "recurring": None
        if recurring is None
        else {
            "interval": recurring["interval"],
            "interval_count": recurring.get("interval_count") or 1,
            "meter": recurring.get("meter"),
            "usage_type": recurring.get("usage_type") or "licensed",
            "trial_period_days": None,
        },
        "tax_behavior": params.get("tax_behavior") or "unspecified",
        "tiers_mode": params.get("tiers_mode"),
        "transform_quantity": None,
        "type": "recurring" if recurring else "one_time",
        "unit_amount": int(amount) if whole and amount is not None else None,
        "unit_amount_decimal": None if amount is None else decimal_text(amount),
        "_tiers": params.get("_tiers") or [],
    }


def decimal_text(value: Any) -> str:
    text = format(value, "f") if not isinstance(value, str) else value
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def render_price(stored: Obj, expand: set[str], prefix: str = "") -> Obj:
    shown = public(stored)
    if f"{prefix}tiers" in expand and stored.get("billing_scheme") == "tiered":
        shown["tiers"] = stored.get("_tiers", [])
    return shown


def plan(price_obj: Obj) -> Obj:
    """The legacy Plan view of a recurring price, as subscription items still carry it."""
    recurring = price_obj["recurring"] or {}
    return {
        "id": price_obj["id"],
        "object": "plan",
        "active": price_obj["active"],
        "amount": price_obj["unit_amount"],
        "amount_decimal": price_obj["unit_amount_decimal"],
        "billing_scheme": price_obj["billing_scheme"],
        "created": price_obj["created"],
        "currency": price_obj["currency"],
        "interval": recurring.get("interval"),
        "interval_count": recurring.get("interval_count"),
        "livemode": False,
        "metadata": price_obj["metadata"],
        "meter": recurring.get("meter"),
        "nickname": price_obj["nickname"],
        "product": price_obj["product"],
        "tiers_mode": price_obj["tiers_mode"],
        "transform_usage": None,
        "trial_period_days": None,
        "usage_type": recurring.get("usage_type"),
    }


def subscription_item(
    object_id: str,
    created: int,
    subscription_id: str,
    price_obj: Obj,
    quantity: int | None,
    metadata: Obj,
    period: tuple[int, int],
) -> Obj:
    metered = (price_obj.get("recurring") or {}).get("usage_type") == "metered"
    return {
        "id": object_id,
        "object": "subscription_item",
        "billing_thresholds": None,
        "created": created,
        "current_period_end": period[1],
        "current_period_start": period[0],
        "discounts": [],
        "metadata": metadata,
        "plan": plan(price_obj),
        "price": price_obj,
        "quantity": None if metered else (quantity if quantity is not None else 1),
        "subscription": subscription_id,
        "tax_rates": [],
    }


def subscription(
    object_id: str, created: int, params: Obj, customer_obj: Obj, currency: str, anchor: int, start: int, status: str
) -> Obj:
    trial_end = params.get("_trial_end")
    return {
        "id": object_id,
        "object": "subscription",
        "application": None,
        "application_fee_percent": None,
        "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None},
        "billing_cycle_anchor": anchor,
        "billing_cycle_anchor_config": None,
        "billing_mode": {"flexible": None, "type": "classic"},
        "billing_schedules": [],
        "billing_thresholds": None,
        "cancel_at": params.get("cancel_at"),
        "cancel_at_period_end": bool(params.get("cancel_at_period_end")),
        "canceled_at": None,
        "cancellation_details": {"comment": None, "feedback": None, "reason": None},
        "collection_method": params.get("collection_method") or "charge_automatically",
        "created": created,
        "currency": currency,
        "customer": customer_obj["id"],
        "customer_account": None,
        "days_until_due": params.get("days_until_due"),
        "default_payment_method": None,
        "default_source": None,
        "default_tax_rates": [],
        "description": params.get("description"),
        "discounts": [],
        "ended_at": None,
        "invoice_settings": {
            "account_tax_ids": None,
            "custom_fields": None,
            "description": None,
            "footer": None,
            "issuer": {"type": "self"},
        },
        "items": list_object([], f"/v1/subscription_items?subscription={object_id}"),
        "latest_invoice": None,
        "livemode": False,
        "managed_payments": None,
        "metadata": params.get("metadata") or {},
        "next_pending_invoice_item_invoice": None,
        "on_behalf_of": None,
        "pause_collection": None,
        "payment_settings": {
            "payment_method_options": None,
            "payment_method_types": None,
            "save_default_payment_method": "off",
        },
        "pending_invoice_item_interval": None,
        "pending_setup_intent": None,
        "pending_update": None,
        "schedule": None,
        "start_date": start,
        "status": status,
        "test_clock": customer_obj["test_clock"],
        "transfer_data": None,
        "trial_end": trial_end,
        "trial_settings": {"end_behavior": {"missing_payment_method": "create_invoice"}},
        "trial_start": start if trial_end else None,
    }


def invoice(
    object_id: str,
    created: int,
    customer_obj: Obj,
    currency: str,
    *,
    billing_reason: str,
    collection_method: str,
    subscription_id: str | None,
    subscription_metadata: Obj | None,
    period: tuple[int, int],
    account_name: str,
) -> Obj:
    address = customer_obj.get("address")
    return {
        "id": object_id,
        "object": "invoice",
        "account_country": "US",
        "account_name": account_name,
        "account_tax_ids": None,
        "amount_due": 0,
        "amount_overpaid": 0,
        "amount_paid": 0,
        "amount_remaining": 0,
        "amount_shipping": 0,
        "application": None,
        "attempt_count": 0,
        "attempted": False,
        "auto_advance": True,
        "automatic_tax": {
            "disabled_reason": None,
            "enabled": False,
            "liability": None,
            "provider": None,
            "status": None,
        },
        "automatically_finalizes_at": None,
        "billing_reason": billing_reason,
        "collection_method": collection_method,
        "created": created,
        "currency": currency,
        "custom_fields": None,
        "customer": customer_obj["id"],
        "customer_account": None,
        "customer_address": address,
        "customer_email": customer_obj.get("email"),
        "customer_name": customer_obj.get("name"),
        "customer_phone": customer_obj.get("phone"),
        "customer_shipping": None,
        "customer_tax_exempt": customer_obj.get("tax_exempt", "none"),
        "customer_tax_ids": [],
        "default_payment_method": None,
        "default_source": None,
        "default_tax_rates": [],
        "description": None,
        "discounts": [],
        "due_date": None,
        "effective_at": None,
        "ending_balance": None,
        "footer": None,
        "from_invoice": None,
        "hosted_invoice_url": None,
        "invoice_pdf": None,
        "issuer": {"type": "self"},
        "last_finalization_error": None,
        "latest_revision": None,
        "lines": list_object([], f"/v1/invoices/{object_id}/lines"),
        "livemode": False,
        "metadata": {},
        "next_payment_attempt": None,
        "number": None,
        "on_behalf_of": None,
        "parent": None
        if subscription_id is None
        else {
            "quote_details": None,
            "subscription_details": {"metadata": subscription_metadata or {}, "subscription": subscription_id},
            "type": "subscription_details",
        },
        "payment_settings": {"default_mandate": None, "payment_method_options": None, "payment_method_types": None},
        "period_end": period[1],
        "period_start": period[0],
        "post_payment_credit_notes_amount": 0,
        "pre_payment_credit_notes_amount": 0,
        "receipt_number": None,
        "rendering": None,
        "shipping_cost": None,
        "shipping_details": None,
        "starting_balance": 0,
        "statement_descriptor": None,
        "status": "draft",
        "status_transitions": {
            "finalized_at": None,
            "marked_uncollectible_at": None,
            "paid_at": None,
            "voided_at": None,
        },
        "subtotal": 0,
        "subtotal_excluding_tax": 0,
        "test_clock": customer_obj.get("test_clock"),
        "total": 0,
        "total_discount_amounts": [],
        "total_excluding_tax": 0,
        "total_pretax_credit_amounts": [],
        "total_taxes": [],
        "webhooks_delivered_at": None,
    }


def line_item(
    object_id: str,
    invoice_id: str,
    *,
    amount: int,
    currency: str,
    description: str,
    period: tuple[int, int],
    quantity: int | None,
    price_obj: Obj,
    subscription_id: str | None,
    subscription_item_id: str | None,
    invoice_item_id: str | None,
    proration: bool,
    metadata: Obj | None = None,
    credited_items: Obj | None = None,
) -> Obj:
    """An invoice line; a credit proration names the debit lines it credits (`credited_items`)."""
    if subscription_item_id is not None:
        parent: Obj = {
            "invoice_item_details": None,
            "subscription_item_details": {
                "invoice_item": invoice_item_id,
                "proration": proration,
                "proration_details": {"credited_items": credited_items},
                "subscription": subscription_id,
                "subscription_item": subscription_item_id,
            },
            "type": "subscription_item_details",
        }
    else:
        parent = {
            "invoice_item_details": {
                "invoice_item": invoice_item_id,
                "proration": proration,
                "proration_details": {"credited_items": credited_items},
                "subscription": subscription_id,
            },
            "subscription_item_details": None,
            "type": "invoice_item_details",
        }
    return {
        "id": object_id,
        "object": "line_item",
        "amount": amount,
        "currency": currency,
        "description": description,
        "discount_amounts": [],
        "discountable": True,
        "discounts": [],
        "invoice": invoice_id,
        "livemode": False,
        "metadata": metadata or {},
        "parent": parent,
        "period": {"end": period[1], "start": period[0]},
        "pretax_credit_amounts": [],
        "pricing": {
            # fixtures3.json leaves price_details out of its example; the API returns it for price-based lines.
            "price_details": {"price": price_obj["id"], "product": price_obj["product"]},
            "type": "price_details",
            "unit_amount_decimal": price_obj.get("unit_amount_decimal"),
        },
        "quantity": quantity,
        "quantity_decimal": None if quantity is None else str(quantity),
        "subscription": subscription_id,
        "subtotal": amount,
        "taxes": [],
    }


def invoiceitem(
    object_id: str,
    created: int,
    customer_obj: Obj,
    *,
    amount: int,
    currency: str,
    description: str,
    period: tuple[int, int],
    quantity: int,
    price_obj: Obj,
    subscription_id: str | None,
    subscription_item_id: str | None,
    proration: bool,
    metadata: Obj | None = None,
) -> Obj:
    return {
        "id": object_id,
        "object": "invoiceitem",
        "amount": amount,
        "currency": currency,
        "customer": customer_obj["id"],
        "customer_account": None,
        "date": created,
        "description": description,
        "discountable": True,
        "discounts": [],
        "invoice": None,
        "livemode": False,
        "metadata": metadata or {},
        "net_amount": amount,
        "parent": None
        if subscription_id is None
        else {
            "subscription_details": {"subscription": subscription_id},
            "type": "subscription_details",
        },
        "period": {"end": period[1], "start": period[0]},
        "pricing": {
            "price_details": {"price": price_obj["id"], "product": price_obj["product"]},
            "type": "price_details",
            "unit_amount_decimal": price_obj.get("unit_amount_decimal"),
        },
        "proration": proration,
        "quantity": quantity,
        "quantity_decimal": str(quantity),
        "tax_rates": [],
        "test_clock": customer_obj.get("test_clock"),
        "_subscription_item": subscription_item_id,
    }


def credit_note(
    object_id: str,
    created: int,
    invoice_obj: Obj,
    *,
    number: str,
    amount: int,
    lines: list[Obj],
    params: Obj,
    pre_payment: int,
) -> Obj:
    """`pre_payment` is the part that reduced what the invoice still asked for; the rest is post-payment."""
    kinds = {(True, False): "pre_payment", (False, True): "post_payment", (True, True): "mixed"}
    return {
        "id": object_id,
        "object": "credit_note",
        "amount": amount,
        "amount_shipping": 0,
        "created": created,
        "currency": invoice_obj["currency"],
        "customer": invoice_obj["customer"],
        "customer_account": None,
        "customer_balance_transaction": None,
        "discount_amount": 0,
        "discount_amounts": [],
        "effective_at": created,
        "invoice": invoice_obj["id"],
        "lines": list_object(lines, f"/v1/credit_notes/{object_id}/lines"),
        "livemode": False,
        "memo": params.get("memo"),
        "metadata": params.get("metadata") or {},
        "number": number,
        "out_of_band_amount": params.get("out_of_band_amount"),
        "pdf": f"https://pay.stripe.com/credit_notes/sandbox/{object_id}/pdf",
        "post_payment_amount": amount - pre_payment,
        "pre_payment_amount": pre_payment,
        "pretax_credit_amounts": [],
        "reason": params.get("reason"),
        "refunds": [],
        "shipping_cost": None,
        "status": "issued",
        "subtotal": amount,
        "subtotal_excluding_tax": amount,
        "total": amount,
        "total_excluding_tax": amount,
        "total_taxes": [],
        "type": kinds[(pre_payment > 0, amount > pre_payment)],
        "voided_at": None,
    }


def credit_note_line(
    object_id: str,
    *,
    amount: int,
    description: str,
    quantity: int | None,
    invoice_line_item: str | None,
    unit_amount: int | None,
    metadata: Obj | None = None,
) -> Obj:
    return {
        "id": object_id,
        "object": "credit_note_line_item",
        "amount": amount,
        "description": description,
        "discount_amount": 0,
        "discount_amounts": [],
        "invoice_line_item": invoice_line_item,
        "livemode": False,
        "metadata": metadata or {},
        "pretax_credit_amounts": [],
        "quantity": quantity,
        "tax_rates": [],
        "taxes": [],
        "type": "invoice_line_item" if invoice_line_item else "custom_line_item",
        "unit_amount": unit_amount,
        "unit_amount_decimal": None if unit_amount is None else str(unit_amount),
    }


def meter(object_id: str, created: int, params: Obj) -> Obj:
    mapping = params.get("customer_mapping") or {}
    value = params.get("value_settings") or {}
    return {
        "id": object_id,
        "object": "billing.meter",
        "created": created,
        "customer_mapping": {
            "event_payload_key": mapping.get("event_payload_key") or "stripe_customer_id",
            "type": mapping.get("type") or "by_id",
        },
        "default_aggregation": {"formula": params["default_aggregation"]["formula"]},
        "display_name": params["display_name"],
        "event_name": params["event_name"],
        "event_time_window": params.get("event_time_window"),
        "livemode": False,
        "status": "active",
        "status_transitions": {"deactivated_at": None},
        "updated": created,
        "value_settings": {"event_payload_key": value.get("event_payload_key") or "value"},
    }


def meter_event(created: int, params: Obj, identifier: str, timestamp: int) -> Obj:
    return {
        "object": "billing.meter_event",
        "created": created,
        "event_name": params["event_name"],
        "identifier": identifier,
        "livemode": False,
        "payload": params["payload"],
        "timestamp": timestamp,
    }


def meter_event_summary(object_id: str, meter_id: str, window: tuple[int, int], value: Decimal) -> Obj:
    """`aggregated_value` is a JSON number (Stripe types it float): an integer when the value is whole."""
    return {
        "id": object_id,
        "object": "billing.meter_event_summary",
        "aggregated_value": int(value) if value == value.to_integral_value() else float(value),
        "end_time": window[1],
        "livemode": False,
        "meter": meter_id,
        "start_time": window[0],
    }


def invoice_payment(object_id: str, created: int, invoice_obj: Obj, payment: Obj, amount: int, paid_at: int) -> Obj:
    """A paid payment of an invoice. `payment` is `{"type": ..., "<type>": id}` (a payment intent or record)."""
    return {
        "id": object_id,
        "object": "invoice_payment",
        "amount_paid": amount,
        "amount_requested": amount,
        "created": created,
        "currency": invoice_obj["currency"],
        "invoice": invoice_obj["id"],
        "is_default": False,
        "livemode": False,
        "payment": payment,
        "status": "paid",
        "status_transitions": {"canceled_at": None, "paid_at": paid_at},
    }


def test_clock(object_id: str, created: int, frozen_time: int, name: str | None) -> Obj:
    return {
        "id": object_id,
        "object": "test_helpers.test_clock",
        "created": created,
        "deletes_after": created + 30 * 86400,
        "frozen_time": frozen_time,
        "livemode": False,
        "name": name,
        "status": "ready",
        "status_details": {},
    }


def event(
    object_id: str,
    created: int,
    event_type: str,
    data_object: Obj,
    previous: Obj | None,
    api_version: str,
    request_id: str | None,
    idempotency_key: str | None,
    pending_webhooks: int,
) -> Obj:
    data: Obj = {"object": data_object}
    if previous is not None:
        data["previous_attributes"] = previous
    return {
        "id": object_id,
        "object": "event",
        "api_version": api_version,
        "created": created,
        "data": data,
        "livemode": False,
        "pending_webhooks": pending_webhooks,
        "request": {"id": request_id, "idempotency_key": idempotency_key},
        "type": event_type,
    }


def subscription_schedule(object_id: str, created: int, customer_obj: Obj, params: Obj) -> Obj:
    return {
        "id": object_id,
        "object": "subscription_schedule",
        "application": None,
        "billing_mode": {"flexible": None, "type": "classic"},
        "canceled_at": None,
        "completed_at": None,
        "created": created,
        "current_phase": None,
        "customer": customer_obj["id"],
        "customer_account": None,
        "default_settings": {
            "application_fee_percent": None,
            "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None},
            "billing_cycle_anchor": "automatic",
            "billing_thresholds": None,
            "collection_method": params.get("_collection_method") or "charge_automatically",
            "default_payment_method": None,
            "description": None,
            "invoice_settings": {
                "account_tax_ids": None,
                "custom_fields": None,
                "days_until_due": params.get("_days_until_due"),
                "description": None,
                "footer": None,
                "issuer": {"type": "self"},
            },
            "on_behalf_of": None,
            "transfer_data": None,
        },
        "end_behavior": params.get("end_behavior") or "release",
        "livemode": False,
        "metadata": params.get("metadata") or {},
        "phases": [],
        "released_at": None,
        "released_subscription": None,
        "status": "not_started",
        "subscription": None,
        "test_clock": customer_obj.get("test_clock"),
    }
