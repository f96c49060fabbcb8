"""How a q2c process reaches Temporal: a local dev server, a self-hosted cluster, or Temporal Cloud.

Settings come from a TOML file's `[temporal]` table, then `Q2C_*` environment variables override it, so one
config file can be shared while a deployment changes only what differs (typically the API key).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError, field_validator, model_validator
from temporalio.client import Client
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.runtime import Runtime
from temporalio.service import TLSConfig

from workers.trace_roots import TraceRootForStarts

CONFIG_ENV = "Q2C_CONFIG"
TABLE = "temporal"
CONNECT_TIMEOUT = timedelta(seconds=10)

# Setting name -> environment variable that overrides it.
ENV_VARS: Mapping[str, str] = {
    "address": "Q2C_TEMPORAL_ADDRESS",
    "namespace": "Q2C_TEMPORAL_NAMESPACE",
    "task_queue": "Q2C_TASK_QUEUE",
    "ui_url": "Q2C_TEMPORAL_UI_URL",
    "api_key": "Q2C_TEMPORAL_API_KEY",
    "tls": "Q2C_TEMPORAL_TLS",
    "tls_client_cert": "Q2C_TEMPORAL_TLS_CLIENT_CERT",
    "tls_client_key": "Q2C_TEMPORAL_TLS_CLIENT_KEY",
    "tls_server_ca": "Q2C_TEMPORAL_TLS_SERVER_CA",
    "tls_server_name": "Q2C_TEMPORAL_TLS_SERVER_NAME",
}
_PATH_SETTINGS = ("tls_client_cert", "tls_client_key", "tls_server_ca")
_TLS_ONLY_SETTINGS = (*_PATH_SETTINGS, "tls_server_name")


class SettingsError(ValueError):
    """A setting could not be read or is invalid; the message is one line naming the file/variable/key."""


class TemporalUnreachable(RuntimeError):
    """No Temporal frontend answered at the configured address."""


class TemporalSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    address: str = "127.0.0.1:7233"
    namespace: str = "default"
    task_queue: str = "q2c"
    ui_url: str = "http://127.0.0.1:8233"
    api_key: SecretStr | None = None
    tls: bool = False
    tls_client_cert: Path | None = None
    tls_client_key: Path | None = None
    tls_server_ca: Path | None = None
    tls_server_name: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _credentials_imply_tls(cls, data: Any) -> Any:
        # Temporal Cloud never accepts an API key or a client certificate in clear text; turning TLS on here
        # beats a handshake error later. Any TLS-only setting likewise means the user wants TLS.
        if isinstance(data, dict) and any(data.get(name) for name in ("api_key", *_TLS_ONLY_SETTINGS)):
            return {**data, "tls": True}
        return data

    @field_validator(*_PATH_SETTINGS)
    @classmethod
    def _file_exists(cls, path: Path | None) -> Path | None:
        if path is not None and not path.is_file():
            raise ValueError(f"file {path} does not exist")
        return path

    @model_validator(mode="after")
    def _cert_and_key_together(self) -> TemporalSettings:
        if (self.tls_client_cert is None) != (self.tls_client_key is None):
            raise ValueError("tls_client_cert and tls_client_key must be given together (mTLS needs both)")
        return self


def load_temporal_settings(
    config_file: Path | None = None, environ: Mapping[str, str] = os.environ
) -> TemporalSettings:
    """Settings from `config_file` (or `$Q2C_CONFIG`), overridden by `Q2C_*` environment variables."""
    if config_file is None and environ.get(CONFIG_ENV):
        config_file = Path(environ[CONFIG_ENV])
    values: dict[str, Any] = {}
    origin: dict[str, str] = {}
    if config_file is not None:
        for name, value in _read_table(config_file).items():
            values[name] = value
            origin[name] = f"{config_file} [{TABLE}] {name}"
    for name, value in _read_environ(environ).items():
        values[name] = value
        origin[name] = ENV_VARS[name]
    try:
        return TemporalSettings.model_validate(values)
    except ValidationError as error:
        raise SettingsError(_describe(error, origin, config_file)) from None


def _read_table(config_file: Path) -> dict[str, Any]:
    try:
        with config_file.open("rb") as f:
            document = tomllib.load(f)
    except FileNotFoundError:
        raise SettingsError(f"config file {config_file} not found") from None
    except OSError as error:
        raise SettingsError(f"cannot read config file {config_file}: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise SettingsError(f"config file {config_file} is not valid TOML: {error}") from None
    table = document.get(TABLE, {})
    if not isinstance(table, dict):
        raise SettingsError(f"config file {config_file}: `{TABLE}` must be a table ([{TABLE}])")
    return {name: _relative_to(config_file, name, value) for name, value in table.items()}


def _relative_to(config_file: Path, name: str, value: Any) -> Any:
    # A certificate path written in the config file means "next to this file", wherever q2c is started from.
    if name in _PATH_SETTINGS and isinstance(value, str):
        return config_file.parent / Path(value).expanduser()
    return value


def _read_environ(environ: Mapping[str, str]) -> dict[str, Any]:
    # An empty variable counts as unset: compose files and CI templates often export `VAR=`.
    values: dict[str, Any] = {name: environ[var] for name, var in ENV_VARS.items() if environ.get(var)}
    if "tls" in values:
        values["tls"] = _parse_bool(ENV_VARS["tls"], values["tls"])
    return values


def _parse_bool(variable: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered not in ("true", "false"):
        raise SettingsError(f"{variable} must be `true` or `false`, not {raw!r}")
    return lowered == "true"


def _describe(error: ValidationError, origin: Mapping[str, str], config_file: Path | None) -> str:
    problems = []
    for detail in error.errors():
        field = str(detail["loc"][0]) if detail["loc"] else ""
        message = str(detail["msg"]).removeprefix("Value error, ")
        if detail["type"] == "extra_forbidden":
            problems.append(f"{config_file} [{TABLE}]: unknown key {field!r}")
        elif field:
            problems.append(f"{origin.get(field, field)}: {message}")
        else:
            problems.append(f"temporal settings: {message}")
    return "; ".join(problems)


def _tls_config(settings: TemporalSettings) -> TLSConfig | bool:
    if not settings.tls:
        return False
    if not any(getattr(settings, name) for name in _TLS_ONLY_SETTINGS):
        return True  # system roots, no client certificate: Temporal Cloud with an API key
    return TLSConfig(
        server_root_ca_cert=_read_bytes("tls_server_ca", settings.tls_server_ca),
        domain=settings.tls_server_name,
        client_cert=_read_bytes("tls_client_cert", settings.tls_client_cert),
        client_private_key=_read_bytes("tls_client_key", settings.tls_client_key),
    )


def _read_bytes(setting: str, path: Path | None) -> bytes | None:
    if path is None:
        return None
    try:
        return path.read_bytes()
    except OSError as error:
        raise SettingsError(f"{setting}: cannot read {path}: {error.strerror}") from None


async def connect_temporal(settings: TemporalSettings, *, runtime: Runtime | None = None) -> Client:
    """A client for `settings`, with the pydantic data converter so canonical models cross the wire as-is.

    Every q2c client is made here, so here is where payloads get encrypted when a payload key is configured
    (`workers.payload_codec`) and where tracing joins client calls, workflows and activities into one trace (the
    interceptor is cheap while no tracer provider is installed; workers built on the client inherit it).
    `runtime`: the Temporal runtime (metrics); the process default when None.
    """
    from workers.payload_codec import codec_from_env, data_converter  # it reports errors as our SettingsError

    converter = data_converter(codec_from_env())
    try:
        return await Client.connect(
            settings.address,
            namespace=settings.namespace,
            api_key=settings.api_key.get_secret_value() if settings.api_key else None,
            tls=_tls_config(settings),
            data_converter=converter,
            interceptors=[TraceRootForStarts(), TracingInterceptor()],  # in this order: see workers.trace_roots
            runtime=runtime,
            connect_timeout=CONNECT_TIMEOUT,
        )
    except RuntimeError as error:
        raise TemporalUnreachable(
            f"cannot reach Temporal at {settings.address} (namespace {settings.namespace}): {error}. "
            "For a local server, run `q2c dev`."
        ) from error
