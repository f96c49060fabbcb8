"""The codec endpoint: lets the Temporal UI (and `temporal` CLI) show encrypted saga payloads to those allowed to.

Temporal's codec server protocol: `POST /codec/decode` and `POST /codec/encode` take and answer
`{"payloads": [{"metadata": {...}, "data": "..."}]}` (bytes as base64, the protobuf JSON form of `Payloads`).
Served by the receiver when a payload key is configured (`workers.payload_codec`) and `Q2C_CODEC_AUTH_TOKEN` is
set: every call must carry `Authorization: Bearer <token>`. Without a token the endpoint answers 404, like every
receiver endpoint whose secret is not configured: decrypted customer data is never served to anyone who asks.
The browser calls it cross-origin, so the Temporal UI's origin must be allowed: `Q2C_CODEC_CORS_ORIGINS`
(comma-separated; default: the configured Temporal UI, `Q2C_TEMPORAL_UI_URL`, or http://127.0.0.1:8233).
"""

from __future__ import annotations

import hmac
import logging
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from urllib.parse import urlsplit

from fastapi import FastAPI, Request, Response
from google.protobuf import json_format
from pydantic import BaseModel, ConfigDict, SecretStr
from starlette.middleware.cors import CORSMiddleware
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.converter import PayloadCodec

from workers.payload_codec import PayloadDecryptionError, codec_from_env

PATH = "/codec"
TOKEN_ENV = "Q2C_CODEC_AUTH_TOKEN"
ORIGINS_ENV = "Q2C_CODEC_CORS_ORIGINS"
UI_URL_ENV = "Q2C_TEMPORAL_UI_URL"
DEFAULT_UI_URL = "http://127.0.0.1:8233"
MAX_BODY_BYTES = 4 * 1024 * 1024  # Temporal's own payload size limit is 2 MB; a page of history fits
log = logging.getLogger("q2c.codec")


class CodecEndpointSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    auth_token: SecretStr
    ui_origins: tuple[str, ...]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> CodecEndpointSettings | None:
        """None when no token is configured (the endpoint stays off)."""
        token = environ.get(TOKEN_ENV, "").strip()
        if not token:
            return None
        listed = [o.strip() for o in environ.get(ORIGINS_ENV, "").split(",") if o.strip()]
        return cls(auth_token=SecretStr(token), ui_origins=tuple(listed) or (_origin(environ),))


def _origin(environ: Mapping[str, str]) -> str:
    parts = urlsplit(environ.get(UI_URL_ENV) or DEFAULT_UI_URL)
    return f"{parts.scheme}://{parts.netloc}"


def mount_codec_endpoint(app: FastAPI, environ: Mapping[str, str] = os.environ) -> bool:
    """Serve the codec endpoint under `/codec` when a payload key and a token are configured; True if served."""
    codec, settings = codec_from_env(environ), CodecEndpointSettings.from_env(environ)
    if codec is None or settings is None:
        if codec is not None:
            log.info("payloads are encrypted; set %s to serve the codec endpoint for the Temporal UI", TOKEN_ENV)
        return False
    app.mount(PATH, create_codec_app(codec, settings))
    return True


def create_codec_app(codec: PayloadCodec, settings: CodecEndpointSettings) -> FastAPI:
    app = FastAPI(title="q2c codec endpoint", docs_url=None, redoc_url=None, openapi_url=None)
    # Preflight requests carry no Authorization header; the middleware answers them before the token check.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(settings.ui_origins),
        allow_methods=["POST"],
        allow_headers=["Authorization", "Content-Type", "X-Namespace"],
        allow_credentials=True,
    )
    token = settings.auth_token.get_secret_value()

    @app.post("/decode")
    async def decode(request: Request) -> Response:
        return await _apply(request, token, codec.decode)

    @app.post("/encode")
    async def encode(request: Request) -> Response:
        return await _apply(request, token, codec.encode)

    return app


async def _apply(
    request: Request, token: str, operation: Callable[[Sequence[Payload]], Awaitable[list[Payload]]]
) -> Response:
    if not _authorised(request.headers.get("authorization"), token):
        return _plain("missing or wrong bearer token", 401, {"WWW-Authenticate": "Bearer"})
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        return _plain("too many payloads in one request", 413)
    try:
        payloads = json_format.Parse(body, Payloads())
    except json_format.ParseError as error:
        return _plain(f"not a payloads document: {error}", 400)
    try:
        converted = await operation(list(payloads.payloads))
    except PayloadDecryptionError as error:
        return _plain(str(error), 422)
    answer = json_format.MessageToJson(Payloads(payloads=converted))
    return Response(answer, media_type="application/json")


def _authorised(header: str | None, token: str) -> bool:
    scheme, _, presented = (header or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(presented.strip().encode(), token.encode())


def _plain(text: str, status: int, headers: Mapping[str, str] | None = None) -> Response:
    return Response(text, status_code=status, media_type="text/plain", headers=dict(headers or {}))
