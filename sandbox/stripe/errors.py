"""Stripe's error responses: always `{"error": {"type", "code", "message", "param", "doc_url"}}` here.

Real Stripe omits `code`, `param` and `doc_url` when they do not apply; this emulator sends them as null so
clients can rely on the keys (stripe-python reads them with `.get`, so both forms parse the same).
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

DOCS = "https://stripe.com/docs/error-codes/"


class StripeError(Exception):
    """An API error. `validation` marks errors raised before the endpoint began executing: a request refused
    there stores no idempotent result, so the same key may be retried with corrected parameters."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type_: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        validation: bool = False,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type_
        self.code = code
        self.param = param
        self.validation = validation
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return error_body(self.type, self.message, self.code, self.param)

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def error_body(type_: str, message: str, code: str | None = None, param: str | None = None) -> dict[str, Any]:
    return {
        "error": {
            "type": type_,
            "code": code,
            "message": message,
            "param": param,
            "doc_url": DOCS + code.replace("_", "-") if code else None,
        }
    }


def invalid(message: str, param: str | None = None, code: str | None = None) -> StripeError:
    """A 400 for parameters that fail validation (nothing is stored under the idempotency key)."""
    return StripeError(400, message, code=code, param=param, validation=True)


def missing_param(param: str) -> StripeError:
    return invalid(f"Missing required param: {param}.", param, "parameter_missing")


def unknown_param(param: str) -> StripeError:
    return invalid(f"Received unknown parameter: {param}", param, "parameter_unknown")


def no_such(kind: str, object_id: str, param: str | None = "id", status: int = 404) -> StripeError:
    """`No such customer: 'cus_x'`: 404 for a path ID, 400 naming the parameter for an ID passed as one."""
    return StripeError(
        status,
        f"No such {kind}: '{object_id}'",
        code="resource_missing",
        param=param,
        validation=status == 400,
    )


def api_error(status: int = 500, message: str = "An unknown error occurred") -> StripeError:
    return StripeError(status, message, type_="api_error")


def rate_limited(retry_after_seconds: int) -> JSONResponse:
    # Stripe documents the 429 and its body; a Retry-After header on it is not documented (*unverified*): the
    # emulator sends one so clients can honour a hint when there is one.
    body = error_body(
        "invalid_request_error",
        "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.",
        "rate_limit",
    )
    return JSONResponse(body, status_code=429, headers={"Retry-After": str(retry_after_seconds)})
