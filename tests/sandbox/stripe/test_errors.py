# stripe-python leaves its error constructors untyped.
# mypy: disable-error-code="no-untyped-call"
"""Each stripe-python error class maps to one adapter error class (no network: the errors are built here)."""

from __future__ import annotations

from datetime import timedelta

import stripe

from adapters.errors import NotFoundError, PermanentAdapterError, RateLimitedError, TransientAdapterError
from adapters.stripe.errors import classify
from canonical.problems import ExceptionCategory


def test_rate_limits_carry_the_hinted_delay_or_a_default() -> None:
    hinted = classify(stripe.RateLimitError("slow down", http_status=429, headers={"Retry-After": "12"}))
    unhinted = classify(stripe.RateLimitError("slow down", http_status=429))

    assert isinstance(hinted, RateLimitedError) and hinted.retry_after == timedelta(seconds=12)
    assert isinstance(unhinted, RateLimitedError) and unhinted.retry_after == timedelta(seconds=1)


def test_server_errors_conflicts_and_broken_connections_are_transient() -> None:
    for error in (
        stripe.APIError("boom", http_status=503),
        stripe.APIError("in progress", http_status=409),
        stripe.APIConnectionError("reset by peer"),
    ):
        assert isinstance(classify(error), TransientAdapterError)


def test_refusals_are_permanent_with_their_category() -> None:
    invalid = classify(stripe.InvalidRequestError("Invalid integer: x", "items[0][quantity]", http_status=400))
    missing = classify(stripe.InvalidRequestError("No such customer: 'cus_1'", "customer", "resource_missing", 400))
    reused = classify(stripe.IdempotencyError("Keys for idempotent requests ...", http_status=400))
    denied = classify(stripe.AuthenticationError("Invalid API Key provided", http_status=401))

    assert isinstance(invalid, PermanentAdapterError) and "items[0][quantity]" in invalid.message
    assert invalid.category is ExceptionCategory.INVALID_DATA
    assert isinstance(missing, NotFoundError) and "customer" in missing.message
    assert isinstance(reused, PermanentAdapterError) and reused.category is ExceptionCategory.DUPLICATE_DETECTED
    assert isinstance(denied, PermanentAdapterError) and denied.category is ExceptionCategory.SYSTEM_REJECTED
    assert not isinstance(denied, TransientAdapterError)
