from __future__ import annotations

from pathlib import Path

import pytest

from workers.temporal_settings import (
    SettingsError,
    TemporalSettings,
    TemporalUnreachable,
    connect_temporal,
    load_temporal_settings,
)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_file_or_environment() -> None:
    settings = load_temporal_settings(environ={})
    assert settings == TemporalSettings()
    assert settings.address == "127.0.0.1:7233"
    assert settings.tls is False


def test_environment_overrides_file(tmp_path: Path) -> None:
    config = write(
        tmp_path / "q2c.toml",
        '[temporal]\naddress = "temporal.internal:7233"\nnamespace = "q2c-staging"\ntask_queue = "file-queue"\n',
    )
    environ = {"Q2C_TEMPORAL_NAMESPACE": "q2c-prod", "Q2C_TASK_QUEUE": ""}
    settings = load_temporal_settings(config, environ=environ)
    assert settings.address == "temporal.internal:7233"  # from the file
    assert settings.namespace == "q2c-prod"  # the environment wins
    assert settings.task_queue == "file-queue"  # an empty variable counts as unset


def test_q2c_config_names_the_file(tmp_path: Path) -> None:
    config = write(tmp_path / "q2c.toml", '[temporal]\nui_url = "http://temporal-ui:8080"\n')
    settings = load_temporal_settings(environ={"Q2C_CONFIG": str(config)})
    assert settings.ui_url == "http://temporal-ui:8080"


def test_other_tables_are_ignored(tmp_path: Path) -> None:
    config = write(tmp_path / "q2c.toml", '[crm]\nbase_url = "https://crm"\n')
    assert load_temporal_settings(config, environ={}) == TemporalSettings()


def test_api_key_implies_tls() -> None:
    settings = load_temporal_settings(environ={"Q2C_TEMPORAL_API_KEY": "secret", "Q2C_TEMPORAL_TLS": "false"})
    assert settings.tls is True
    assert settings.api_key is not None and settings.api_key.get_secret_value() == "secret"
    assert "secret" not in repr(settings)


def test_tls_flag_from_environment() -> None:
    assert load_temporal_settings(environ={"Q2C_TEMPORAL_TLS": "TRUE"}).tls is True
    with pytest.raises(SettingsError, match="Q2C_TEMPORAL_TLS must be `true` or `false`"):
        load_temporal_settings(environ={"Q2C_TEMPORAL_TLS": "yes please"})


def test_client_cert_without_key_is_rejected(tmp_path: Path) -> None:
    cert = write(tmp_path / "client.pem", "cert")
    with pytest.raises(SettingsError, match="tls_client_cert and tls_client_key must be given together"):
        load_temporal_settings(environ={"Q2C_TEMPORAL_TLS_CLIENT_CERT": str(cert)})


def test_cert_paths_in_file_are_relative_to_the_file(tmp_path: Path) -> None:
    write(tmp_path / "client.pem", "cert")
    write(tmp_path / "client.key", "key")
    config = write(
        tmp_path / "q2c.toml",
        '[temporal]\ntls_client_cert = "client.pem"\ntls_client_key = "client.key"\n',
    )
    settings = load_temporal_settings(config, environ={})
    assert settings.tls_client_cert == tmp_path / "client.pem"
    assert settings.tls is True


def test_missing_cert_file_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"Q2C_TEMPORAL_TLS_SERVER_CA: file .*nope\.pem does not exist"):
        load_temporal_settings(environ={"Q2C_TEMPORAL_TLS_SERVER_CA": str(tmp_path / "nope.pem")})


def test_bad_toml_names_the_file(tmp_path: Path) -> None:
    config = write(tmp_path / "q2c.toml", "[temporal]\naddress = 127.0.0.1:7233\n")
    with pytest.raises(SettingsError, match=r"q2c.toml is not valid TOML: .*line 2") as failure:
        load_temporal_settings(config, environ={})
    assert "\n" not in str(failure.value)


def test_unknown_file_is_reported(tmp_path: Path) -> None:
    missing = tmp_path / "absent.toml"
    with pytest.raises(SettingsError, match=r"config file .*absent\.toml not found"):
        load_temporal_settings(environ={"Q2C_CONFIG": str(missing)})


def test_unknown_key_and_bad_type_name_their_source(tmp_path: Path) -> None:
    config = write(tmp_path / "q2c.toml", '[temporal]\nadress = "x:7233"\ntls = "maybe"\n')
    with pytest.raises(SettingsError) as failure:
        load_temporal_settings(config, environ={})
    message = str(failure.value)
    assert "unknown key 'adress'" in message
    assert "[temporal] tls:" in message
    assert "\n" not in message


async def test_unreachable_server_suggests_q2c_dev() -> None:
    from workers.dev_server import free_port

    settings = TemporalSettings(address=f"127.0.0.1:{free_port()}")
    with pytest.raises(TemporalUnreachable, match=r"127\.0\.0\.1:\d+.*q2c dev"):
        await connect_temporal(settings)
