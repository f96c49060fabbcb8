"""How to reach NetSuite: base URL, account, and one of its two server-to-server authentications.

Switching from the emulator to a real NetSuite sandbox account is configuration only:

    Q2C_NETSUITE_BASE_URL          https://1234567-sb1.suitetalk.api.netsuite.com (or the emulator's URL)
    Q2C_NETSUITE_ACCOUNT_ID        1234567_SB1 (the TBA realm)
    Q2C_NETSUITE_AUTH              m2m | tba
    -- m2m (OAuth 2.0 client credentials) --
    Q2C_NETSUITE_CLIENT_ID         the integration record's client ID
    Q2C_NETSUITE_CERTIFICATE_ID    the certificate ID shown in the M2M setup (the JWT `kid`)
    Q2C_NETSUITE_PRIVATE_KEY_FILE  PEM private key of that certificate (or Q2C_NETSUITE_PRIVATE_KEY: the PEM)
    Q2C_NETSUITE_JWT_ALGORITHM     PS256 (RSA key) | ES256 (EC P-256 key); default PS256
    -- tba (OAuth 1.0a, HMAC-SHA256) --
    Q2C_NETSUITE_CONSUMER_KEY, Q2C_NETSUITE_CONSUMER_SECRET, Q2C_NETSUITE_TOKEN_ID, Q2C_NETSUITE_TOKEN_SECRET
    -- optional --
    Q2C_NETSUITE_TIMEOUT_SECONDS   per request, default 30
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

ENV_PREFIX = "Q2C_NETSUITE_"


class NetSuiteAuthMode(StrEnum):
    M2M = "m2m"
    TBA = "tba"


class NetSuiteSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    base_url: str = Field(min_length=1, description="https://<account>.suitetalk.api.netsuite.com, no /services/rest")
    account_id: str = Field(min_length=1)
    auth: NetSuiteAuthMode = NetSuiteAuthMode.M2M
    client_id: str | None = None
    certificate_id: str | None = None
    private_key_pem: SecretStr | None = None
    jwt_algorithm: Literal["PS256", "ES256"] = "PS256"
    consumer_key: str | None = None
    consumer_secret: SecretStr | None = None
    token_id: str | None = None
    token_secret: SecretStr | None = None
    timeout_seconds: float = Field(30.0, gt=0)
    default_retry_after_seconds: float = Field(1.0, ge=0, description="When a 429 carries no Retry-After")

    @model_validator(mode="after")
    def _credentials_for_mode(self) -> NetSuiteSettings:
        needed = (
            {
                "client_id": self.client_id,
                "certificate_id": self.certificate_id,
                "private_key_pem": self.private_key_pem,
            }
            if self.auth is NetSuiteAuthMode.M2M
            else {
                "consumer_key": self.consumer_key,
                "consumer_secret": self.consumer_secret,
                "token_id": self.token_id,
                "token_secret": self.token_secret,
            }
        )
        missing = [name for name, value in needed.items() if not value]
        if missing:
            raise ValueError(f"{self.auth.value} authentication needs {', '.join(missing)}")
        return self

    @property
    def rest_url(self) -> str:
        return f"{self.base_url.rstrip('/')}/services/rest"

    @property
    def token_url(self) -> str:
        return f"{self.rest_url}/auth/oauth2/v1/token"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> NetSuiteSettings:
        source = os.environ if env is None else env

        def get(name: str) -> str | None:
            return source.get(ENV_PREFIX + name) or None

        key = get("PRIVATE_KEY")
        key_file = get("PRIVATE_KEY_FILE")
        if key is None and key_file is not None:
            key = Path(key_file).read_text(encoding="utf-8")
        values: dict[str, object] = {
            "base_url": get("BASE_URL"),
            "account_id": get("ACCOUNT_ID"),
            "auth": get("AUTH") or NetSuiteAuthMode.M2M,
            "client_id": get("CLIENT_ID"),
            "certificate_id": get("CERTIFICATE_ID"),
            "private_key_pem": key,
            "jwt_algorithm": get("JWT_ALGORITHM") or "PS256",
            "consumer_key": get("CONSUMER_KEY"),
            "consumer_secret": get("CONSUMER_SECRET"),
            "token_id": get("TOKEN_ID"),
            "token_secret": get("TOKEN_SECRET"),
        }
        if get("TIMEOUT_SECONDS"):
            values["timeout_seconds"] = get("TIMEOUT_SECONDS")
        return cls.model_validate(values)
