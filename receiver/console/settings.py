"""What the finance console needs: the key that signs its sessions, who may sign in, where the store and the
Temporal UI are.

`ConsoleSettings.from_environment()` reads `Q2C_CONSOLE_SECRET`, `Q2C_CONSOLE_USERS_FILE`, `Q2C_DATABASE_URL`
and `Q2C_TEMPORAL_UI_URL`, for a receiver deployed on its own.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from workers.vendor_systems import database_url_from_env

SECRET_ENV = "Q2C_CONSOLE_SECRET"
USERS_FILE_ENV = "Q2C_CONSOLE_USERS_FILE"
WORKER_STATE_DIR = Path(".q2c/worker")  # where `q2c worker` keeps q2c.sqlite by default
UI_URL_ENV = "Q2C_TEMPORAL_UI_URL"
DEFAULT_USERS_FILE = Path("config/console-users.toml")
DEFAULT_UI_URL = "http://127.0.0.1:8233"
MIN_SECRET_LENGTH = 32  # characters: the session cookie's HMAC key must not be guessable


class ConsoleSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    secret: SecretStr = Field(description="Signs the session cookies; at least 32 random characters")
    users_file: Path = Field(DEFAULT_USERS_FILE, description="Who may sign in, with role and password hash")
    database_url: str = Field(description="q2c's operational store: audit trail and exception cases")
    temporal_ui_url: str = Field(DEFAULT_UI_URL, description="Base URL of the Temporal UI, for the saga links")
    session_lifetime: timedelta = Field(timedelta(hours=8), description="A sign-in lasts this long")
    secure_cookie: bool = Field(
        False, description="Send the session cookie over HTTPS only; on when the console is served over HTTPS"
    )

    @field_validator("secret")
    @classmethod
    def _long_secret(cls, secret: SecretStr) -> SecretStr:
        if len(secret.get_secret_value().strip()) < MIN_SECRET_LENGTH:
            raise ValueError(f"the console secret needs at least {MIN_SECRET_LENGTH} characters")
        return secret

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> ConsoleSettings | None:
        """The settings named by the environment; None when `Q2C_CONSOLE_SECRET` is unset (no console)."""
        secret = environ.get(SECRET_ENV)
        if not secret:
            return None
        return cls(
            secret=SecretStr(secret),
            users_file=Path(environ.get(USERS_FILE_ENV, str(DEFAULT_USERS_FILE))),
            database_url=database_url_from_env(WORKER_STATE_DIR, environ),
            temporal_ui_url=environ.get(UI_URL_ENV, DEFAULT_UI_URL),
            secure_cookie=environ.get("Q2C_CONSOLE_SECURE_COOKIE", "").lower() in ("1", "true", "yes"),
        )
