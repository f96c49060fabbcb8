"""Configuration of the NetSuite emulator: the account, the credentials it accepts, and its limits."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_CUSTOMER_CUSTOM_FIELDS = ("custentity_q2c_created_by", "custentity_q2c_crm_account_id")


class M2MClient(BaseModel):
    """An OAuth 2.0 client-credentials mapping: integration client ID + the public part of its certificate."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    client_id: str = Field(min_length=1)
    certificate_id: str = Field(min_length=1, description="The `kid` the client puts in its JWT header")
    public_key_pem: str = Field(min_length=1, description="PEM public key (RSA for PS256, EC P-256 for ES256)")


class TbaCredential(BaseModel):
    """A token-based-authentication pair: the integration record's consumer key/secret and an access token."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    consumer_key: str = Field(min_length=1)
    consumer_secret: str = Field(min_length=1)
    token_id: str = Field(min_length=1)
    token_secret: str = Field(min_length=1)


class NetSuiteEmulatorSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    account_id: str = Field("Q2C_DEMO", min_length=1, description="The TBA realm and the account in URLs")
    public_base_url: str | None = Field(
        None, description="Base URL clients use (for Location headers and the token audience); default: request's"
    )
    m2m_clients: tuple[M2MClient, ...] = ()
    tba_credentials: tuple[TbaCredential, ...] = (
        TbaCredential(
            consumer_key="q2c-sandbox-consumer-key",
            consumer_secret="q2c-sandbox-consumer-secret",
            token_id="q2c-sandbox-token-id",
            token_secret="q2c-sandbox-token-secret",
        ),
    )
    access_token_lifetime_seconds: int = Field(3600, ge=1)
    tba_timestamp_window_seconds: int = Field(300, ge=1)
    concurrency_limit: int = Field(5, ge=1, description="Requests in flight at once; past it, 429")
    customer_custom_fields: tuple[str, ...] = Field(
        DEFAULT_CUSTOMER_CUSTOM_FIELDS, description="The custentity_ fields this account defines"
    )
    admin_token_endpoint: bool = Field(
        True, description="Offer POST /_sandbox/access-token (an access token without OAuth, for seeding and demos)"
    )
