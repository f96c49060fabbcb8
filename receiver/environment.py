"""The receiver's settings from the environment, for `q2c receiver` in production (containers, systemd).

Secrets come from variables rather than flags so they never show in a process list. Lists are comma-separated
(several secrets while rotating); generic event sources are `Q2C_EVENT_SOURCE_SECRETS=source=secret,...`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import SecretStr, ValidationError

from receiver.console.settings import ConsoleSettings
from receiver.settings import ReceiverSettings

ORGANIZATION_ENV = "Q2C_SALESFORCE_ORGANIZATION_ID"
STRIPE_SECRETS_ENV = "Q2C_STRIPE_WEBHOOK_SECRETS"
HUBSPOT_SECRET_ENV = "Q2C_HUBSPOT_CLIENT_SECRET"
HUBSPOT_URL_ENV = "Q2C_HUBSPOT_WEBHOOK_URL"
HUBSPOT_STAGES_ENV = "Q2C_HUBSPOT_CLOSED_WON_STAGES"
EVENT_SOURCES_ENV = "Q2C_EVENT_SOURCE_SECRETS"


class ReceiverSettingsError(ValueError):
    """A receiver variable is missing or invalid; the message names it."""


def receiver_settings_from_env(task_queue: str, environ: Mapping[str, str] = os.environ) -> ReceiverSettings:
    organization = environ.get(ORGANIZATION_ENV, "").strip()
    if not organization:
        raise ReceiverSettingsError(f"{ORGANIZATION_ENV} is not set: the Salesforce organisation to trust")
    fields: dict[str, object] = {"salesforce_organization_id": organization, "task_queue": task_queue}
    if stripe := _listed(environ.get(STRIPE_SECRETS_ENV, "")):
        fields["stripe_webhook_secrets"] = tuple(SecretStr(secret) for secret in stripe)
    if hubspot := environ.get(HUBSPOT_SECRET_ENV, "").strip():
        fields["hubspot_client_secret"] = SecretStr(hubspot)
    if url := environ.get(HUBSPOT_URL_ENV, "").strip():
        fields["hubspot_webhook_url"] = url
    if stages := _listed(environ.get(HUBSPOT_STAGES_ENV, "")):
        fields["hubspot_closed_won_stages"] = stages
    fields["event_source_secrets"] = _event_sources(environ.get(EVENT_SOURCES_ENV, ""))
    try:
        fields["console"] = ConsoleSettings.from_environment(environ)
        return ReceiverSettings.model_validate(fields)
    except ValidationError as error:
        problem = error.errors()[0]
        where = ".".join(str(part) for part in (error.title, *problem["loc"]))
        raise ReceiverSettingsError(f"{where}: {problem['msg']}") from None


def _listed(raw: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def _event_sources(raw: str) -> dict[str, tuple[SecretStr, ...]]:
    sources: dict[str, list[SecretStr]] = {}
    for item in _listed(raw):
        source, separator, secret = item.partition("=")
        if not separator or not source.strip() or not secret.strip():
            raise ReceiverSettingsError(f"{EVENT_SOURCES_ENV}: {item.split('=')[0]!r} is not `source=secret`")
        sources.setdefault(source.strip(), []).append(SecretStr(secret.strip()))
    return {source: tuple(secrets) for source, secrets in sources.items()}
