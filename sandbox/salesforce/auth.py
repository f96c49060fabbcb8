"""OAuth 2.0 for the emulated org: the token endpoint (client credentials, JWT bearer), revocation, and the
session check every REST call goes through.

Token errors are `{"error", "error_description"}` with HTTP 400; REST calls without a live session get 401
`[{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]`. The exact error descriptions
for JWT failures are the ones Salesforce users report (*unverified* against Salesforce's own documentation).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from typing import Any
from urllib.parse import parse_qs

import jwt
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from sandbox.salesforce import ids
from sandbox.salesforce.records import Records
from sandbox.salesforce.settings import SalesforceEmulatorSettings
from sandbox.salesforce.wire import SalesforceApiError
from sandbox.store import DocumentStore

SESSIONS = "sessions"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
JWT_MAX_LIFETIME_SECONDS = 180  # "exp" must lie within 3 minutes
CLOCK_SKEW_SECONDS = 30  # *unverified*: the tolerance Salesforce allows on `exp`
INVALID_SESSION = SalesforceApiError(
    401,
    [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}],
    {"WWW-Authenticate": "Token"},
)


class OAuthError(Exception):
    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status

    def response(self) -> Response:
        return JSONResponse({"error": self.error, "error_description": self.description}, status_code=self.status)


async def _form(request: Request) -> dict[str, str]:
    """The url-encoded form body (parsed here: the emulator does not need python-multipart)."""
    fields = parse_qs((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
    return {name: values[0] for name, values in fields.items()}


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


class Sessions:
    def __init__(self, store: DocumentStore, records: Records, settings: SalesforceEmulatorSettings) -> None:
        self._store = store
        self._records = records
        self._settings = settings
        self.organization_id = ids.to18(settings.organization_id)
        self._jwt_key = _public_key(settings.jwt_certificate_pem) if settings.jwt_certificate_pem else None

    async def user_id(self, request: Request) -> str:
        """The user whose live session authorises `request`; raises INVALID_SESSION_ID otherwise."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() not in {"bearer", "oauth"} or not token:
            raise INVALID_SESSION
        session = await self._store.get(SESSIONS, _token_key(token.strip()))
        if session is None or session["expires_at"] <= time.time():
            raise INVALID_SESSION
        return str(session["user_id"])

    async def issue(self, request: Request) -> dict[str, Any]:
        form = await _form(request)
        grant_type = form.get("grant_type", "")
        if grant_type == "client_credentials":
            self._check_client(request, form.get("client_id", ""), form.get("client_secret", ""))
            username = self._settings.run_as_username
            if await self._user_by_username(username) is None:
                raise OAuthError("invalid_grant", "no client credentials user enabled")
        elif grant_type == JWT_BEARER:
            username = self._verify_assertion(form.get("assertion", ""), base_url(request))
        else:
            raise OAuthError("unsupported_grant_type", "grant type not supported")
        user = await self._user_by_username(username)
        if user is None or not user.get("IsActive", True):
            raise OAuthError("invalid_grant", "user hasn't approved this consumer")
        return await self._new_session(request, str(user["Id"]))

    async def revoke(self, request: Request) -> Response:
        form = await _form(request)
        token = form.get("token") or request.query_params.get("token", "")
        async with self._store.transaction() as tx:
            session = await tx.get(SESSIONS, _token_key(token))
            if session is None:
                raise OAuthError("unsupported_token_type", "this token type is not supported")
            await tx.put(SESSIONS, _token_key(token), session | {"expires_at": 0})
        return Response(status_code=200)

    async def expire_all(self) -> int:
        """Admin: end every session, as a session timeout or an admin's "revoke all" would; returns how many."""
        async with self._store.transaction() as tx:
            live = [s for s in await tx.find(SESSIONS) if s["expires_at"] > time.time()]
            for session in live:
                await tx.put(SESSIONS, session["key"], session | {"expires_at": 0})
        return len(live)

    def _check_client(self, request: Request, client_id: str, client_secret: str) -> None:
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "basic":
            try:
                client_id, _, client_secret = base64.b64decode(credentials).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                raise OAuthError("invalid_client", "invalid client credentials") from None
        if not (
            hmac.compare_digest(client_id, self._settings.client_id)
            and hmac.compare_digest(client_secret, self._settings.client_secret)
        ):
            raise OAuthError("invalid_client", "invalid client credentials")

    def _verify_assertion(self, assertion: str, own_url: str) -> str:
        if self._jwt_key is None:
            raise OAuthError("invalid_grant", "invalid assertion")  # no certificate uploaded to the connected app
        try:
            claims = jwt.decode(
                assertion,
                self._jwt_key,
                algorithms=["RS256"],
                audience=[*self._settings.jwt_audiences, own_url],
                leeway=CLOCK_SKEW_SECONDS,
                options={"require": ["iss", "sub", "aud", "exp"]},
            )
        except jwt.InvalidAudienceError:
            raise OAuthError("invalid_grant", "audience is invalid") from None
        except jwt.ExpiredSignatureError:
            raise OAuthError("invalid_grant", "expired authorization code") from None
        except jwt.PyJWTError:
            raise OAuthError("invalid_grant", "invalid assertion") from None
        if claims["iss"] != self._settings.client_id:
            raise OAuthError("invalid_client_id", "client identifier invalid")
        if float(claims["exp"]) > time.time() + JWT_MAX_LIFETIME_SECONDS + CLOCK_SKEW_SECONDS:
            raise OAuthError("invalid_grant", "invalid assertion")  # expires too late: not "within 3 minutes"
        return str(claims["sub"])

    async def _user_by_username(self, username: str) -> dict[str, Any] | None:
        user_type = self._records.sobject("User")
        async with self._store.transaction() as tx:
            wanted = username.casefold()
            users = await self._records.live(tx, user_type)
        return next((u for u in users if str(u.get("Username", "")).casefold() == wanted), None)

    async def _new_session(self, request: Request, user_id: str) -> dict[str, Any]:
        token = f"{self.organization_id[:15]}!{secrets.token_urlsafe(48)}"
        issued_at = str(int(time.time() * 1000))
        instance_url = base_url(request)
        identity = f"{instance_url}/id/{self.organization_id}/{user_id}"
        await self._store_session(token, user_id)
        signature = hmac.new(self._settings.client_secret.encode(), (identity + issued_at).encode(), hashlib.sha256)
        return {
            "access_token": token,
            "signature": base64.b64encode(signature.digest()).decode(),
            "scope": "api",
            "instance_url": instance_url,
            "id": identity,
            "token_type": "Bearer",
            "issued_at": issued_at,
        }

    async def _store_session(self, token: str, user_id: str) -> None:
        async with self._store.transaction() as tx:
            await tx.put(
                SESSIONS,
                _token_key(token),
                {
                    "key": _token_key(token),
                    "user_id": user_id,
                    "expires_at": time.time() + self._settings.session_seconds,
                },
            )


def _token_key(token: str) -> str:
    """Sessions are stored under a hash of the token, never the token itself."""
    return hashlib.sha256(token.encode()).hexdigest()


def _public_key(pem: str) -> RSAPublicKey:
    data = pem.encode()
    key = x509.load_pem_x509_certificate(data).public_key() if b"CERTIFICATE" in data else load_pem_public_key(data)
    if not isinstance(key, RSAPublicKey):
        raise ValueError("the connected app's certificate must hold an RSA key (JWT bearer uses RS256)")
    return key


def oauth_router(sessions: Sessions) -> APIRouter:
    router = APIRouter(prefix="/services/oauth2")

    @router.post("/token")
    async def token(request: Request) -> Response:
        try:
            return JSONResponse(await sessions.issue(request))
        except OAuthError as error:
            return error.response()

    @router.post("/revoke")
    async def revoke(request: Request) -> Response:
        try:
            return await sessions.revoke(request)
        except OAuthError as error:
            return error.response()

    return router
