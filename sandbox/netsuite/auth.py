"""Authentication as NetSuite does it: OAuth 2.0 client credentials (M2M) and token-based auth (OAuth 1.0a).

- `POST /services/rest/auth/oauth2/v1/token`: form-encoded `grant_type=client_credentials`,
  `client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer` and `client_assertion`, a JWT
  signed PS256/PS384/PS512/ES256/ES384/ES512 whose header `kid` is the certificate ID of a configured mapping,
  with `iss` = the mapping's client ID, `aud` = this token URL, `scope` including `rest_webservices`, and
  `exp` at most 60 minutes after `iat`. The answer is an RS256 JWT access token valid for 60 minutes.
- Every record and query request carries `Authorization: Bearer <access token>` or an OAuth 1.0a header
  (HMAC-SHA256, realm = account ID) whose signature is recomputed here; a timestamp outside the window or a
  nonce seen before is refused. Every failure is NetSuite's 401 INVALID_LOGIN.

Unverified: the token endpoint's error bodies (RFC 6749 `{"error", "error_description"}` is assumed) and
`expires_in` being sent as the string "3600".
"""

from __future__ import annotations

import time
import uuid
from typing import Any
from urllib.parse import parse_qsl

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from sandbox.netsuite import oauth1
from sandbox.netsuite.errors import invalid_login
from sandbox.netsuite.settings import NetSuiteEmulatorSettings
from sandbox.store import DocumentStore

TOKEN_PATH = "/services/rest/auth/oauth2/v1/token"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_ALGORITHMS = ("PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
MAX_ASSERTION_LIFETIME_SECONDS = 3600
SCOPE = "rest_webservices"
ISSUER = "https://system.netsuite.com"
_KEY_COLLECTION = "emulator"
_KEY_ID = "access-token-signing-key"


class TokenRequestError(Exception):
    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


def base_url(request: Request, settings: NetSuiteEmulatorSettings) -> str:
    return (settings.public_base_url or str(request.base_url)).rstrip("/")


def _scopes(value: Any) -> list[str]:
    if isinstance(value, str):
        return [s for s in value.replace(",", " ").split() if s]
    if isinstance(value, list) and all(isinstance(s, str) for s in value):
        return value
    return []


class Authenticator:
    """Issues and checks access tokens, verifies TBA signatures; the signing key persists in the store."""

    def __init__(self, store: DocumentStore, settings: NetSuiteEmulatorSettings) -> None:
        self._store = store
        self._settings = settings
        self._private_key: rsa.RSAPrivateKey | None = None
        self._nonces: dict[tuple[str, str, str], int] = {}

    # --- access tokens ------------------------------------------------------------------------------------

    async def _signing_key(self) -> rsa.RSAPrivateKey:
        if self._private_key is None:
            async with self._store.transaction() as tx:
                stored = await tx.get(_KEY_COLLECTION, _KEY_ID)
                if stored is None:
                    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
                    pem = key.private_bytes(
                        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
                    ).decode()
                    await tx.put(_KEY_COLLECTION, _KEY_ID, {"private_key_pem": pem})
                else:
                    loaded = serialization.load_pem_private_key(stored["private_key_pem"].encode(), password=None)
                    assert isinstance(loaded, rsa.RSAPrivateKey)
                    key = loaded
            self._private_key = key
        return self._private_key

    async def issue_access_token(self, client_id: str, scopes: list[str]) -> dict[str, str]:
        now = int(time.time())
        lifetime = self._settings.access_token_lifetime_seconds
        claims = {
            "sub": f"3;{client_id}",
            "aud": [client_id, self._settings.account_id],
            "scope": scopes,
            "iss": ISSUER,
            "iat": now,
            "exp": now + lifetime,
            "jti": str(uuid.uuid4()),
        }
        token = jwt.encode(claims, await self._signing_key(), algorithm="RS256", headers={"kid": "sandbox.2026_1"})
        return {"access_token": token, "expires_in": str(lifetime), "token_type": "bearer"}

    def verify_assertion(self, assertion: str, token_url: str) -> tuple[str, list[str]]:
        """Check a client assertion as NetSuite documents it; returns the client ID and the scopes granted."""
        try:
            header = jwt.get_unverified_header(assertion)
        except jwt.PyJWTError as error:
            raise TokenRequestError("invalid_request", f"client_assertion is not a JWT: {error}") from error
        algorithm, kid = header.get("alg"), header.get("kid")
        if algorithm not in ASSERTION_ALGORITHMS:
            raise TokenRequestError(
                "invalid_request", f"alg {algorithm!r} is not one of {', '.join(ASSERTION_ALGORITHMS)}"
            )
        client = next((c for c in self._settings.m2m_clients if c.certificate_id == kid), None)
        if client is None:
            raise TokenRequestError("invalid_client", f"no certificate mapping with ID {kid!r}", 401)
        public_key = serialization.load_pem_public_key(client.public_key_pem.encode())
        wanted = rsa.RSAPublicKey if algorithm.startswith("PS") else ec.EllipticCurvePublicKey
        if not isinstance(public_key, wanted):
            raise TokenRequestError("invalid_client", f"the certificate {kid} does not hold a key for {algorithm}", 401)
        try:
            claims = jwt.decode(
                assertion,
                public_key,
                algorithms=[algorithm],
                audience=token_url,
                options={"require": ["iss", "aud", "exp", "iat", "scope"]},
            )
        except jwt.PyJWTError as error:
            raise TokenRequestError("invalid_grant", f"client_assertion refused: {error}") from error
        if claims["iss"] != client.client_id:
            raise TokenRequestError("invalid_client", "iss is not the client ID mapped to this certificate", 401)
        if int(claims["exp"]) - int(claims["iat"]) > MAX_ASSERTION_LIFETIME_SECONDS:
            raise TokenRequestError("invalid_grant", "exp is more than 60 minutes after iat")
        if int(claims["iat"]) > time.time() + 60:
            raise TokenRequestError("invalid_grant", "iat is in the future")
        scopes = _scopes(claims["scope"])
        if SCOPE not in scopes:
            raise TokenRequestError("invalid_scope", f"scope must include {SCOPE}")
        return client.client_id, scopes

    # --- request authentication ---------------------------------------------------------------------------

    async def authenticate(self, request: Request) -> None:
        header = request.headers.get("authorization", "")
        scheme = header.split(" ", 1)[0].lower()
        if scheme == "bearer":
            await self._check_bearer(header.split(" ", 1)[1].strip() if " " in header else "")
        elif scheme == "oauth":
            await self._check_tba(request, header)
        else:
            raise invalid_login("no Bearer or OAuth Authorization header")

    async def _check_bearer(self, token: str) -> None:
        key = (await self._signing_key()).public_key()
        try:
            claims = jwt.decode(
                token, key, algorithms=["RS256"], issuer=ISSUER, options={"verify_aud": False, "require": ["exp"]}
            )
        except jwt.PyJWTError as error:
            raise invalid_login(f"access token refused: {error}") from error
        if SCOPE not in _scopes(claims.get("scope")):
            raise invalid_login(f"access token lacks the {SCOPE} scope")

    async def _check_tba(self, request: Request, header: str) -> None:
        try:
            params = oauth1.parse_authorization(header)
        except ValueError as error:
            raise invalid_login(str(error)) from error
        realm = params.pop("realm", None)
        given = params.pop("oauth_signature", None)
        missing = [
            name
            for name in (
                "oauth_consumer_key",
                "oauth_token",
                "oauth_signature_method",
                "oauth_timestamp",
                "oauth_nonce",
            )
            if name not in params
        ]
        if missing or given is None:
            raise invalid_login(f"OAuth header lacks {', '.join(missing) or 'oauth_signature'}")
        if realm is None or realm.upper() != self._settings.account_id.upper():
            raise invalid_login(f"realm {realm!r} is not account {self._settings.account_id}")
        if params["oauth_signature_method"] != "HMAC-SHA256":
            raise invalid_login("oauth_signature_method must be HMAC-SHA256")
        if params.get("oauth_version", "1.0") != "1.0":
            raise invalid_login("oauth_version must be 1.0")
        credential = next(
            (
                c
                for c in self._settings.tba_credentials
                if c.consumer_key == params["oauth_consumer_key"] and c.token_id == params["oauth_token"]
            ),
            None,
        )
        if credential is None:
            raise invalid_login("unknown consumer key or token")
        expected = oauth1.signature(
            "HMAC-SHA256",
            oauth1.signature_base_string(
                request.method, _request_uri(request), _signed_params(request, params, await request.body())
            ),
            credential.consumer_secret,
            credential.token_secret,
        )
        if not oauth1.signature_matches(expected, given):
            raise invalid_login("signature mismatch")
        self._use_nonce(params)

    def _use_nonce(self, params: dict[str, str]) -> None:
        now, window = int(time.time()), self._settings.tba_timestamp_window_seconds
        try:
            timestamp = int(params["oauth_timestamp"])
        except ValueError as error:
            raise invalid_login("oauth_timestamp is not an integer") from error
        if abs(now - timestamp) > window:
            raise invalid_login("oauth_timestamp is outside the allowed window")
        self._nonces = {k: t for k, t in self._nonces.items() if now - t <= window}
        key = (params["oauth_consumer_key"], params["oauth_token"], params["oauth_nonce"])
        if key in self._nonces:
            raise invalid_login("oauth_nonce was already used")
        self._nonces[key] = timestamp


def _request_uri(request: Request) -> str:
    raw_path = request.scope.get("raw_path")
    path = raw_path.decode("latin-1").split("?", 1)[0] if raw_path else request.url.path
    return oauth1.base_string_uri(request.url.scheme, request.url.hostname or "", request.url.port, path)


def _signed_params(request: Request, oauth: dict[str, str], body: bytes) -> list[tuple[str, str]]:
    params = parse_qsl(request.scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        params += parse_qsl(body.decode("utf-8"), keep_blank_values=True)
    return params + list(oauth.items())


def auth_router(authenticator: Authenticator, settings: NetSuiteEmulatorSettings) -> APIRouter:
    router = APIRouter()

    @router.post(TOKEN_PATH)
    async def token(request: Request) -> Response:
        try:
            if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
                raise TokenRequestError("invalid_request", "the body must be application/x-www-form-urlencoded")
            form = dict(parse_qsl((await request.body()).decode("utf-8"), keep_blank_values=True))
            if form.get("grant_type") != "client_credentials":
                raise TokenRequestError("unsupported_grant_type", "grant_type must be client_credentials")
            if form.get("client_assertion_type") != ASSERTION_TYPE:
                raise TokenRequestError("invalid_request", f"client_assertion_type must be {ASSERTION_TYPE}")
            if not form.get("client_assertion"):
                raise TokenRequestError("invalid_request", "client_assertion is missing")
            client_id, scopes = authenticator.verify_assertion(
                form["client_assertion"], base_url(request, settings) + TOKEN_PATH
            )
        except TokenRequestError as error:
            return JSONResponse({"error": error.error, "error_description": error.description}, error.status)
        return JSONResponse(await authenticator.issue_access_token(client_id, scopes))

    if settings.admin_token_endpoint:

        @router.post("/_sandbox/access-token")
        async def admin_token() -> Response:
            """Sandbox only: an access token without OAuth, so seeding and demos need no key pair."""
            return JSONResponse(await authenticator.issue_access_token("sandbox-admin", [SCOPE]))

    return router
