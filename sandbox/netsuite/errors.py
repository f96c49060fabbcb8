"""NetSuite's REST error shape, `{type, title, status, "o:errorDetails": [...]}`, raised and rendered once.

Codes and wording follow Oracle's "Error Handling in REST Web Services" page where it gives them
(INVALID_LOGIN, INVALID_CONTENT with `o:errorPath`); the others are marked *unverified* where they are made.
"""

from __future__ import annotations

from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.responses import Response

from sandbox.faults import FaultRule
from sandbox.netsuite.wire import ERROR, NetSuiteResponse

_RFC2616 = "https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html"
_TYPES = {
    400: f"{_RFC2616}#sec10.4.1",
    401: f"{_RFC2616}#sec10.4.2",
    403: f"{_RFC2616}#sec10.4.4",
    404: f"{_RFC2616}#sec10.4.5",
    405: f"{_RFC2616}#sec10.4.6",
    429: "https://tools.ietf.org/html/rfc6585#section-4",  # unverified: 429 is not in RFC 2616
    500: f"{_RFC2616}#sec10.5.1",
    502: f"{_RFC2616}#sec10.5.3",
    503: f"{_RFC2616}#sec10.5.4",
    504: f"{_RFC2616}#sec10.5.5",
}

INVALID_LOGIN_DETAIL = (
    "Invalid login attempt. For more details, see the Login Audit Trail in the NetSuite UI at "
    "Setup > Users/Roles > User Management > View Login Audit Trail."
)
# Unverified: NetSuite documents that REST answers 429 past the concurrency limit, not the body's code or text.
CONCURRENCY_CODE = "CONCURRENCY_LIMIT_EXCEEDED"
CONCURRENCY_DETAIL = "Concurrent request limit exceeded. Request blocked."


class NetSuiteError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        path: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.path = path
        self.headers = headers or {}

    def response(self) -> Response:
        return error_response(self.status, self.code, self.detail, self.path, self.headers)


def invalid_content(detail: str, path: str) -> NetSuiteError:
    return NetSuiteError(400, "INVALID_CONTENT", f"Error while accessing a resource. {detail}", path)


def invalid_field_value(value: object, field: str, path: str) -> NetSuiteError:
    return invalid_content(f"You have entered an Invalid Field Value {value} for the following field: {field}", path)


def not_found(detail: str = "The record instance does not exist. Provide a valid record instance ID.") -> NetSuiteError:
    return NetSuiteError(404, "NONEXISTENT_ID", detail)


def invalid_login(reason: str) -> NetSuiteError:
    # NetSuite gives no reason (it goes to the Login Audit Trail); the sandbox adds it in a header for debugging.
    return NetSuiteError(401, "INVALID_LOGIN", INVALID_LOGIN_DETAIL, headers={"X-Q2C-Sandbox-Reason": reason})


def error_body(status: int, code: str, detail: str, path: str | None = None) -> dict[str, object]:
    item: dict[str, object] = {"detail": detail, "o:errorCode": code}
    if path is not None:
        item["o:errorPath"] = path
    return {
        "type": _TYPES.get(status, _RFC2616),
        "title": HTTPStatus(status).phrase,
        "status": status,
        "o:errorDetails": [item],
    }


def error_response(
    status: int, code: str, detail: str, path: str | None = None, headers: dict[str, str] | None = None
) -> Response:
    return NetSuiteResponse(
        error_body(status, code, detail, path), status_code=status, headers=headers, media_type=ERROR
    )


def concurrency_response(retry_after_seconds: int | None = None) -> Response:
    headers = {} if retry_after_seconds is None else {"Retry-After": str(retry_after_seconds)}
    return error_response(429, CONCURRENCY_CODE, CONCURRENCY_DETAIL, headers=headers)


def fault_response(rule: FaultRule) -> Response:
    """The sandbox fault injector's responses, in NetSuite's shape."""
    if rule.kind == "rate_limit":
        return concurrency_response(rule.retry_after_seconds)
    return error_response(
        rule.status, "UNEXPECTED_ERROR", "An unexpected error occurred. Error ID: sandbox-injected-fault"
    )


def install_error_handlers(app: FastAPI) -> None:
    async def handle(_: Request, error: Exception) -> Response:
        assert isinstance(error, NetSuiteError)
        return error.response()

    async def invalid_parameter(_: Request, error: Exception) -> Response:
        assert isinstance(error, RequestValidationError)
        first = error.errors()[0] if error.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ())[1:]) or None
        return error_response(400, "INVALID_PARAMETER", f"Invalid value for the parameter {where}.", where)

    async def unexpected(_: Request, error: Exception) -> Response:
        return error_response(500, "UNEXPECTED_ERROR", f"An unexpected error occurred: {type(error).__name__}.")

    app.add_exception_handler(NetSuiteError, handle)
    app.add_exception_handler(RequestValidationError, invalid_parameter)
    app.add_exception_handler(Exception, unexpected)
