"""The two ways q2c authenticates to NetSuite, behind one small interface.

- OAuth 2.0 client credentials (M2M): a JWT client assertion, signed PS256 or ES256 with the certificate's
  private key, header `kid` = certificate ID, claims `iss` = client ID, `scope` = ["rest_webservices"],
  `aud` = the token URL, `iat`, `exp` (5 minutes later; NetSuite allows at most 60) is exchanged at
  `/services/rest/auth/oauth2/v1/token` for a 60-minute access token, cached until shortly before it expires
  and fetched again once if NetSuite answers 401.
- Token-based authentication: each request signed with OAuth 1.0a HMAC-SHA256, realm = account ID; a fresh
  nonce and timestamp on every attempt.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Protocol

import httpx
import jwt

from adapters.netsuite import oauth1
from adapters.netsuite.errors import error_from_token_response, error_from_transport
from adapters.netsuite.settings import NetSuiteAuthMode, NetSuiteSettings

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
SCOPE = "rest_webservices"
ASSERTION_LIFETIME_SECONDS = 300
EXPIRY_MARGIN_SECONDS = 60


class Credentials(Protocol):
    async def authorize(self, request: httpx.Request) -> None:
        """Add the Authorization header to a request about to be sent."""
        ...

    def invalidate(self) -> bool:
        """After a 401: drop what is cached; True if trying again with fresh credentials could help."""
        ...


def client_assertion(settings: NetSuiteSettings, now: int) -> str:
    assert settings.private_key_pem is not None and settings.client_id and settings.certificate_id
    claims = {
        "iss": settings.client_id,
        "scope": [SCOPE],
        "aud": settings.token_url,
        "iat": now,
        "exp": now + ASSERTION_LIFETIME_SECONDS,
    }
    return jwt.encode(
        claims,
        settings.private_key_pem.get_secret_value(),
        algorithm=settings.jwt_algorithm,
        headers={"kid": settings.certificate_id, "typ": "JWT"},
    )


class ClientCredentialsToken:
    def __init__(self, settings: NetSuiteSettings, http: httpx.AsyncClient, clock: Callable[[], float] = time.time):
        self._settings = settings
        self._http = http
        self._clock = clock
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()
        self.fetched = 0

    async def access_token(self) -> str:
        async with self._lock:
            if self._token is None or self._clock() >= self._expires_at:
                self._token, lifetime = await self._fetch()
                self._expires_at = self._clock() + max(0, lifetime - EXPIRY_MARGIN_SECONDS)
            return self._token

    async def _fetch(self) -> tuple[str, int]:
        form = {
            "grant_type": "client_credentials",
            "client_assertion_type": CLIENT_ASSERTION_TYPE,
            "client_assertion": client_assertion(self._settings, int(self._clock())),
        }
        try:
            response = await self._http.post(self._settings.token_url, data=form)
        except httpx.HTTPError as error:
            raise error_from_transport(error, "token request") from error
        if response.status_code != 200:
            raise error_from_token_response(response, timedelta(seconds=self._settings.default_retry_after_seconds))
        body = response.json()
        self.fetched += 1
        return str(body["access_token"]), int(body.get("expires_in", 3600))  # NetSuite sends "3600" (text)

    async def authorize(self, request: httpx.Request) -> None:
        request.headers["Authorization"] = f"Bearer {await self.access_token()}"

    def invalidate(self) -> bool:
        self._token = None
        return True


class TokenBasedAuth:
    def __init__(self, settings: NetSuiteSettings) -> None:
        assert settings.consumer_secret is not None and settings.token_secret is not None
        assert settings.consumer_key and settings.token_id
        self._settings = settings
        self._consumer_key = settings.consumer_key
        self._token_id = settings.token_id

    async def authorize(self, request: httpx.Request) -> None:
        assert self._settings.consumer_secret is not None and self._settings.token_secret is not None
        request.headers["Authorization"] = oauth1.authorization_header(
            request.method,
            str(request.url),
            realm=self._settings.account_id,
            consumer_key=self._consumer_key,
            consumer_secret=self._settings.consumer_secret.get_secret_value(),
            token=self._token_id,
            token_secret=self._settings.token_secret.get_secret_value(),
        )

    def invalidate(self) -> bool:
        return False  # a TBA token does not expire; a 401 will not be cured by signing again


def credentials_for(settings: NetSuiteSettings, http: httpx.AsyncClient) -> Credentials:
    if settings.auth is NetSuiteAuthMode.M2M:
        return ClientCredentialsToken(settings, http)
    return TokenBasedAuth(settings)
