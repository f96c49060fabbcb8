"""Object IDs in Stripe's style: a type prefix and random base62 characters (`cus_QXg1o8vcGmoR32`)."""

from __future__ import annotations

import secrets
import string

_ALPHABET = string.ascii_letters + string.digits

# Prefix and length of the random part, as in Stripe's example objects (fixtures3.json).
_KINDS: dict[str, tuple[str, int]] = {
    "customer": ("cus", 14),
    "product": ("prod", 14),
    "price": ("price", 24),
    "subscription": ("sub", 24),
    "subscription_item": ("si", 14),
    "subscription_schedule": ("sub_sched", 24),
    "invoice": ("in", 24),
    "line_item": ("il", 24),
    "invoiceitem": ("ii", 24),
    "credit_note": ("cn", 24),
    "credit_note_line_item": ("cnli", 24),
    "invoice_payment": ("inpay", 24),
    "billing.meter": ("mtr", 24),
    "test_helpers.test_clock": ("clock", 24),
    "event": ("evt", 24),
    "request": ("req", 14),
    "webhook_endpoint": ("we", 24),
}


def new_id(kind: str) -> str:
    prefix, length = _KINDS[kind]
    return f"{prefix}_{''.join(secrets.choice(_ALPHABET) for _ in range(length))}"


def random_token(length: int = 32) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))
