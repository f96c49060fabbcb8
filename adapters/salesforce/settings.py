"""How the Salesforce adapter reaches an org: its My Domain URL and a connected app's credentials.

Two OAuth 2.0 flows, chosen by what is configured: JWT bearer when a private key is set (the connected app holds
the matching certificate; the token runs as `username`), else client credentials (the connected app's run-as
user). Pointing q2c at the emulator or at a real org is configuration only.

Environment variables:
    Q2C_SALESFORCE_BASE_URL          My Domain URL, e.g. https://acme.my.salesforce.com (the emulator's URL in dev)
    Q2C_SALESFORCE_CLIENT_ID         the connected app's consumer key
    Q2C_SALESFORCE_CLIENT_SECRET     its consumer secret (client credentials flow)
    Q2C_SALESFORCE_USERNAME          the integration user (JWT bearer flow)
    Q2C_SALESFORCE_PRIVATE_KEY_FILE  PEM private key signing the JWT (or Q2C_SALESFORCE_PRIVATE_KEY with the PEM)
    Q2C_SALESFORCE_JWT_AUDIENCE      `aud` of the JWT: https://login.salesforce.com (default) or test.salesforce.com
    Q2C_SALESFORCE_API_VERSION       REST API version, default 61.0
    Q2C_SALESFORCE_TIMEOUT_SECONDS   per-request timeout, default 10
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

ENV_PREFIX = "Q2C_SALESFORCE_"


class AuthFlow(StrEnum):
    CLIENT_CREDENTIALS = "client_credentials"
    JWT_BEARER = "jwt_bearer"


class SalesforceSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    base_url: str = Field(min_length=1, description="My Domain URL; the token endpoint lives here")
    client_id: str = Field(min_length=1)
    client_secret: SecretStr | None = None
    username: str | None = None
    private_key_pem: SecretStr | None = None
    jwt_audience: str = "https://login.salesforce.com"
    api_version: str = Field("61.0", pattern=r"^\d+\.0$")
    timeout_seconds: float = Field(10.0, gt=0)

    @model_validator(mode="after")
    def _one_flow_configured(self) -> SalesforceSettings:
        if self.private_key_pem is not None and not self.username:
            raise ValueError("the JWT bearer flow needs Q2C_SALESFORCE_USERNAME")
        if self.private_key_pem is None and self.client_secret is None:
            raise ValueError("set Q2C_SALESFORCE_CLIENT_SECRET (client credentials) or a private key (JWT bearer)")
        return self

    @property
    def auth_flow(self) -> AuthFlow:
        return AuthFlow.JWT_BEARER if self.private_key_pem is not None else AuthFlow.CLIENT_CREDENTIALS

    @property
    def token_url(self) -> str:
        return f"{self.base_url.rstrip('/')}/services/oauth2/token"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SalesforceSettings:
        env = os.environ if environ is None else environ

        def value(name: str) -> str | None:
            return env.get(ENV_PREFIX + name) or None

        key = value("PRIVATE_KEY")
        key_file = value("PRIVATE_KEY_FILE")
        if key is None and key_file is not None:
            key = Path(key_file).read_text(encoding="utf-8")
        settings: dict[str, object] = {
            "base_url": value("BASE_URL"),
            "client_id": value("CLIENT_ID"),
            "client_secret": value("CLIENT_SECRET"),
            "username": value("USERNAME"),
            "private_key_pem": key,
            "jwt_audience": value("JWT_AUDIENCE"),
            "api_version": value("API_VERSION"),
            "timeout_seconds": value("TIMEOUT_SECONDS"),
        }
        return cls.model_validate({k: v for k, v in settings.items() if v is not None})
