"""The Q2C_SALESFORCE_*, Q2C_NETSUITE_* and Q2C_STRIPE_* variables: printed for a sandbox, read by `q2c worker`."""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import BaseModel, SecretStr, ValidationError

from adapters.netsuite.settings import ENV_PREFIX as NETSUITE_ENV
from adapters.netsuite.settings import NetSuiteSettings
from adapters.salesforce.settings import ENV_PREFIX as SALESFORCE_ENV
from adapters.salesforce.settings import SalesforceSettings
from adapters.stripe.settings import ENV_PREFIX as STRIPE_ENV
from adapters.stripe.settings import StripeSettings
from cli.context import CliError

VendorSettings = tuple[SalesforceSettings, NetSuiteSettings, StripeSettings]

ENV_HINT = "`q2c sandbox` prints the values that reach the local emulators"


def adapter_env(settings: VendorSettings) -> dict[str, str]:
    """The variables whose `from_env` gives back `settings` (the emulators' development credentials)."""
    crm, erp, billing = settings
    env = {
        f"{SALESFORCE_ENV}BASE_URL": crm.base_url,
        f"{SALESFORCE_ENV}CLIENT_ID": crm.client_id,
        f"{SALESFORCE_ENV}CLIENT_SECRET": _secret(crm.client_secret),
        f"{NETSUITE_ENV}BASE_URL": erp.base_url,
        f"{NETSUITE_ENV}ACCOUNT_ID": erp.account_id,
        f"{NETSUITE_ENV}AUTH": erp.auth.value,
        f"{NETSUITE_ENV}CONSUMER_KEY": erp.consumer_key or "",
        f"{NETSUITE_ENV}CONSUMER_SECRET": _secret(erp.consumer_secret),
        f"{NETSUITE_ENV}TOKEN_ID": erp.token_id or "",
        f"{NETSUITE_ENV}TOKEN_SECRET": _secret(erp.token_secret),
        f"{STRIPE_ENV}BASE_URL": billing.base_url,
        f"{STRIPE_ENV}API_KEY": billing.api_key.get_secret_value(),
    }
    if billing.test_clock:
        env[f"{STRIPE_ENV}TEST_CLOCK"] = billing.test_clock
    return {name: value for name, value in env.items() if value}


def settings_from_env(environ: Mapping[str, str] | None = None) -> VendorSettings:
    """The adapters' settings from the environment; CliError naming every missing or invalid variable."""
    env = os.environ if environ is None else environ
    problems: list[str] = []

    def read(model: type[SalesforceSettings | NetSuiteSettings | StripeSettings], prefix: str) -> object:
        try:
            return model.from_env(env)
        except ValidationError as error:
            problems.extend(_explain(error, prefix, model))
        except OSError as error:  # a private key file that cannot be read
            problems.append(f"{prefix}PRIVATE_KEY_FILE: {error.strerror}: {error.filename}")
        return None

    crm = read(SalesforceSettings, SALESFORCE_ENV)
    erp = read(NetSuiteSettings, NETSUITE_ENV)
    billing = read(StripeSettings, STRIPE_ENV)
    if not (
        isinstance(crm, SalesforceSettings)
        and isinstance(erp, NetSuiteSettings)
        and isinstance(billing, StripeSettings)
    ):
        raise CliError(f"the vendor connections are not configured: {'; '.join(problems)} ({ENV_HINT})")
    return crm, erp, billing


def _explain(error: ValidationError, prefix: str, model: type[BaseModel]) -> list[str]:
    missing = [prefix + _env_name(str(e["loc"][0])) for e in error.errors() if e["type"] == "missing" and e["loc"]]
    found = [f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set"] if missing else []
    for problem in error.errors():
        if problem["type"] == "missing" and problem["loc"]:
            continue
        message = str(problem["msg"]).removeprefix("Value error, ")
        if problem["loc"]:
            found.append(f"{prefix}{_env_name(str(problem['loc'][0]))}: {message}")
            continue
        for field in model.model_fields:  # a whole-model check names fields: name their variables instead
            message = message.replace(field, prefix + _env_name(field))
        found.append(message)
    return found


def _env_name(field: str) -> str:
    return "PRIVATE_KEY" if field == "private_key_pem" else field.upper()


def _secret(value: SecretStr | None) -> str:
    return "" if value is None else value.get_secret_value()
