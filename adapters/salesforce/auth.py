"""OAuth 2.0 access tokens for the adapter: client credentials or JWT bearer, cached until Salesforce refuses one.

Salesforce issues no refresh token for either flow and does not say when a token expires (the org's session
timeout decides), so the token is kept until a call answers 401 INVALID_SESSION_ID, then fetched anew once.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import httpx
import jwt

from adapters.salesforce.errors import token_error, transport_error
from adapters.salesforce.settings import AuthFlow, SalesforceSettings

JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ASSERTION_LIFETIME_SECONDS = 150  # Salesforce wants `exp` within 3 minutes


@dataclass(frozen=True)
class AccessToken:
    value: str
    instance_url: str


class TokenSource:
    def __init__(self, settings: SalesforceSettings, http: httpx.AsyncClient) -> None:
        self._settings = settings
        self._http = http
        self._token: AccessToken | None = None
        self._lock = asyncio.Lock()

    async def current(self) -> AccessToken:
        async with self._lock:
            if self._token is None:
                self._token = await self._request()
            return self._token

    async def refresh(self, refused: AccessToken) -> AccessToken:
        """A new token in place of `refused`, unless another call already replaced it."""
        async with self._lock:
            if self._token is None or self._token == refused:
                self._token = await self._request()
            return self._token

    def assertion(self) -> str:
        settings = self._settings
        assert settings.private_key_pem is not None
        claims = {
            "iss": settings.client_id,
            "sub": settings.username,
            "aud": settings.jwt_audience,
            "exp": int(time.time()) + ASSERTION_LIFETIME_SECONDS,
        }
        return jwt.encode(claims, settings.private_key_pem.get_secret_value(), algorithm="RS256")

    async def _request(self) -> AccessToken:
        settings = self._settings
        if settings.auth_flow is AuthFlow.JWT_BEARER:
            form = {"grant_type": JWT_BEARER_GRANT, "assertion": self.assertion()}
        else:
            assert settings.client_secret is not None
            form = {
                "grant_type": "client_credentials",
                "client_id": settings.client_id,
                "client_secret": settings.client_secret.get_secret_value(),
            }
        try:
            response = await self._http.post(settings.token_url, data=form)
        except httpx.HTTPError as error:
            raise transport_error(error, "requesting a Salesforce access token") from error
        if response.status_code != 200:
            raise token_error(response)
        body = response.json()
        return AccessToken(str(body["access_token"]), str(body["instance_url"]).rstrip("/"))
