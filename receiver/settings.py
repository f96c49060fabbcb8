"""What the trigger receiver needs to know: whom to trust, and where sagas start.

Only the Salesforce organisation is required. Every other scheme is switched on by giving its secret; an endpoint
whose secret is missing answers 404 "not configured" (rather than 503), because no retry by the sender will ever
make it work: the operator has to configure it.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from receiver.console.settings import ConsoleSettings

_SOURCE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


class ReceiverSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    salesforce_organization_id: str
    task_queue: str = "q2c"
    stripe_webhook_secrets: tuple[SecretStr, ...] = Field(
        (), description="The Stripe endpoint's signing secrets (whsec_...); old and new while rotating"
    )
    hubspot_client_secret: SecretStr | None = Field(None, description="The HubSpot app's client secret")
    hubspot_webhook_url: str | None = Field(
        None,
        description="The target URL as configured in the HubSpot app, which HubSpot signs; needed when the "
        "receiver sits behind a proxy and sees another URL. Unset: the URL of the request as received.",
    )
    hubspot_closed_won_stages: tuple[str, ...] = Field(
        ("closedwon",), min_length=1, description="Deal stage IDs meaning closed-won (one per pipeline)"
    )
    event_source_secrets: dict[str, tuple[SecretStr, ...]] = Field(
        default_factory=dict,
        description="Per source of /events/{source}: its signing secrets (old and new while rotating)",
    )
    console: ConsoleSettings | None = Field(
        None, description="The finance console at /console (receiver/console); None: no console is served"
    )

    @field_validator("stripe_webhook_secrets", "hubspot_client_secret")
    @classmethod
    def _no_blank_secret(cls, secrets: tuple[SecretStr, ...] | SecretStr | None) -> object:
        listed = secrets if isinstance(secrets, tuple) else (secrets,) if secrets is not None else ()
        if any(not s.get_secret_value().strip() for s in listed):
            raise ValueError("a secret is blank")
        return secrets

    @field_validator("event_source_secrets")
    @classmethod
    def _sources_are_path_segments(cls, sources: dict[str, tuple[SecretStr, ...]]) -> dict[str, tuple[SecretStr, ...]]:
        for name, secrets in sources.items():
            if not _SOURCE_NAME.fullmatch(name):
                raise ValueError(f"source name {name!r} must be 1-64 letters, digits, '_', '.' or '-'")
            if not secrets or any(not s.get_secret_value().strip() for s in secrets):
                raise ValueError(f"source {name!r} needs at least one non-blank signing secret")
        return sources

    def stripe_secrets(self) -> tuple[str, ...]:
        return tuple(s.get_secret_value() for s in self.stripe_webhook_secrets)

    def hubspot_secret(self) -> str | None:
        return None if self.hubspot_client_secret is None else self.hubspot_client_secret.get_secret_value()

    def event_source_secrets_of(self, source: str) -> tuple[str, ...]:
        return tuple(s.get_secret_value() for s in self.event_source_secrets.get(source, ()))
