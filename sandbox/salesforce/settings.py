"""What one emulated Salesforce org is configured with: its connected app, limits, and outbound message endpoint."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class SalesforceEmulatorSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    api_version: str = Field("61.0", pattern=r"^\d+\.0$", description="Newest API version served")
    organization_id: str = Field("00DNW0000000001", min_length=15, max_length=15)

    # The connected app: consumer key and secret (client credentials), and the certificate its JWTs are signed with.
    client_id: str = "q2c-sandbox-consumer-key"
    client_secret: str = "q2c-sandbox-consumer-secret"
    run_as_username: str = Field(
        "integration@q2c.example", description="The client-credentials flow's run-as user; created at startup"
    )
    jwt_certificate_pem: str | None = Field(None, description="X.509 certificate (or public key) for JWT bearer")
    jwt_audiences: tuple[str, ...] = Field(
        ("https://login.salesforce.com", "https://test.salesforce.com"),
        description="Accepted `aud` values; the emulator's own URL is always accepted too",
    )
    session_seconds: int = Field(7200, ge=0, description="Session timeout of an access token")

    daily_api_limit: int = Field(15000, ge=0, description="API requests per UTC day before REQUEST_LIMIT_EXCEEDED")
    query_batch_size: int = Field(2000, ge=1, le=2000, description="Records per query batch (Salesforce: 2000)")
    absent_fields: dict[str, tuple[str, ...]] = Field(
        default_factory=dict, description="Fields not deployed in this org, by object, e.g. a missing Q2C field"
    )

    # The Outbound Message on Opportunity "StageName changed to Closed Won".
    outbound_listener_url: str | None = None
    outbound_action_id: str = Field("04kNW0000000001", min_length=15, max_length=15)
    outbound_batch_size: int = Field(100, ge=1, le=100, description="Notifications per SOAP message")
    outbound_poll_seconds: float = Field(1.0, gt=0)
    outbound_retry_initial_seconds: float = Field(15.0, gt=0)
    outbound_retry_max_seconds: float = Field(7200.0, gt=0, description="Salesforce backs off to about 2 hours")
    outbound_expiry_seconds: float = Field(86400.0, gt=0, description="Salesforce gives up after 24 hours")
    outbound_timeout_seconds: float = Field(10.0, gt=0)
