"""The adapter's settings: from Q2C_SALESFORCE_* variables, with the auth flow implied by what is set."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from adapters.ports import CrmPort
from adapters.salesforce import AuthFlow, SalesforceCrm, SalesforceSettings


def test_client_credentials_come_from_the_environment():
    settings = SalesforceSettings.from_env(
        {
            "Q2C_SALESFORCE_BASE_URL": "https://acme.my.salesforce.com/",
            "Q2C_SALESFORCE_CLIENT_ID": "3MVG9-key",
            "Q2C_SALESFORCE_CLIENT_SECRET": "s3cr3t-value",
            "Q2C_SALESFORCE_TIMEOUT_SECONDS": "4.5",
        }
    )

    assert settings.auth_flow is AuthFlow.CLIENT_CREDENTIALS
    assert settings.token_url == "https://acme.my.salesforce.com/services/oauth2/token"
    assert settings.api_version == "61.0" and settings.timeout_seconds == 4.5
    assert "s3cr3t-value" not in repr(settings)


def test_a_private_key_file_selects_the_jwt_bearer_flow(tmp_path: Path):
    key_file = tmp_path / "q2c.key"
    key_file.write_text("-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----\n")
    settings = SalesforceSettings.from_env(
        {
            "Q2C_SALESFORCE_BASE_URL": "https://acme--uat.sandbox.my.salesforce.com",
            "Q2C_SALESFORCE_CLIENT_ID": "3MVG9-key",
            "Q2C_SALESFORCE_USERNAME": "q2c@acme.example",
            "Q2C_SALESFORCE_PRIVATE_KEY_FILE": str(key_file),
            "Q2C_SALESFORCE_JWT_AUDIENCE": "https://test.salesforce.com",
        }
    )

    assert settings.auth_flow is AuthFlow.JWT_BEARER
    assert settings.private_key_pem is not None and "BEGIN PRIVATE KEY" in settings.private_key_pem.get_secret_value()
    assert settings.jwt_audience == "https://test.salesforce.com"


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({"Q2C_SALESFORCE_CLIENT_ID": "k", "Q2C_SALESFORCE_CLIENT_SECRET": "s"}, "base_url"),
        ({"Q2C_SALESFORCE_BASE_URL": "https://x", "Q2C_SALESFORCE_CLIENT_ID": "k"}, "CLIENT_SECRET"),
        (
            {
                "Q2C_SALESFORCE_BASE_URL": "https://x",
                "Q2C_SALESFORCE_CLIENT_ID": "k",
                "Q2C_SALESFORCE_PRIVATE_KEY": "pem",
            },
            "USERNAME",
        ),
    ],
)
def test_incomplete_settings_say_what_is_missing(env: dict[str, str], problem: str):
    with pytest.raises(ValidationError, match=problem):
        SalesforceSettings.from_env(env)


def test_the_adapter_is_a_crm_port():
    settings = SalesforceSettings(base_url="https://x.my.salesforce.com", client_id="k", client_secret="s")
    port: CrmPort = SalesforceCrm(settings)
    assert hasattr(port, "fetch_deal") and hasattr(port, "record_saga_outcome")
