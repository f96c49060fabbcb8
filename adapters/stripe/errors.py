"""Stripe's errors classified once, here, into the adapter error classes.

- RateLimitError (429) → RateLimitedError, honouring Retry-After when Stripe sends one (else 1 s).
- APIConnectionError (timeouts, dropped connections), APIError with a 5xx or a 409 (a concurrent request
  with the same idempotency key: retrying is safe) → TransientAdapterError.
- InvalidRequestError → PermanentAdapterError naming the parameter; `resource_missing` → NotFoundError.
- IdempotencyError → PermanentAdapterError(DUPLICATE_DETECTED): a key reused with other parameters is a bug
  or a duplicate saga, never something to retry.
- AuthenticationError / PermissionError → PermanentAdapterError (configuration; no retry helps).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

import stripe

from adapters.errors import (
    AdapterError,
    NotFoundError,
    PermanentAdapterError,
    RateLimitedError,
    TransientAdapterError,
)
from canonical.problems import ExceptionCategory
from canonical.references import System

DEFAULT_RETRY_AFTER = timedelta(seconds=1)
T = TypeVar("T")


async def classified(request: Callable[[], Awaitable[T]]) -> T:
    """`await request()`, with Stripe's errors raised as the adapter error classes."""
    try:
        return await request()
    except stripe.StripeError as error:
        raise classify(error) from error


def classify(error: stripe.StripeError) -> AdapterError:
    message = error.user_message or str(error)
    status = error.http_status
    if isinstance(error, stripe.RateLimitError):
        return RateLimitedError(System.BILLING, f"rate limited: {message}", _retry_after(error))
    if isinstance(error, stripe.APIConnectionError):
        return TransientAdapterError(System.BILLING, f"connection failed: {message}")
    if isinstance(error, stripe.IdempotencyError):
        return PermanentAdapterError(
            System.BILLING, f"idempotency key reused: {message}", ExceptionCategory.DUPLICATE_DETECTED
        )
    if isinstance(error, stripe.InvalidRequestError):
        where = f" (param {error.param})" if error.param else ""
        if error.code == "resource_missing":
            return NotFoundError(System.BILLING, f"{message}{where}")
        return PermanentAdapterError(
            System.BILLING, f"invalid request{where}: {message}", ExceptionCategory.INVALID_DATA
        )
    if isinstance(error, stripe.AuthenticationError | stripe.PermissionError):
        return PermanentAdapterError(System.BILLING, f"not authorized: {message}", ExceptionCategory.SYSTEM_REJECTED)
    if status is None or status >= 500 or status == 409:
        return TransientAdapterError(System.BILLING, f"Stripe error {status}: {message}")
    return PermanentAdapterError(System.BILLING, f"Stripe refused ({status}): {message}")


def _retry_after(error: stripe.StripeError) -> timedelta:
    headers = {k.lower(): v for k, v in (error.headers or {}).items()}
    raw = headers.get("retry-after")
    try:
        seconds = float(raw) if raw is not None else None
    except ValueError:
        seconds = None
    return timedelta(seconds=seconds) if seconds is not None and seconds >= 0 else DEFAULT_RETRY_AFTER
