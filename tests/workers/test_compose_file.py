"""The production-like compose stack registers exactly the search attributes the workers check for."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from workflows.search_attributes import ALL, TYPE_NAMES

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.temporal.yml"


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def test_compose_registers_every_search_attribute_with_its_type() -> None:
    command = " ".join(_compose()["services"]["register-search-attributes"]["command"])
    registered = {word.rstrip(";") for word in command.split() if "=" in word and word.startswith("Q2c")}

    assert registered == {f"{key.name}={TYPE_NAMES[key.indexed_value_type]}" for key in ALL}


def test_the_worker_waits_for_the_search_attributes_and_points_at_the_compose_server() -> None:
    worker = _compose()["services"]["q2c-worker"]

    assert worker["depends_on"]["register-search-attributes"]["condition"] == "service_completed_successfully"
    assert worker["environment"]["Q2C_TEMPORAL_ADDRESS"] == "temporal:7233"


def test_the_compose_file_validates_against_the_compose_specification() -> None:
    # No container engine runs here, so the file is checked against the Compose Specification's schema (as
    # pydantic models generated from compose-spec.json; unknown keys are refused).
    from compose_pydantic.models import ComposeSpecification

    ComposeSpecification.model_validate(_compose())


def test_a_misspelt_key_fails_the_specification() -> None:
    from compose_pydantic.models import ComposeSpecification

    broken = _compose()
    broken["services"]["temporal"]["portz"] = ["7233:7233"]

    with pytest.raises(ValidationError, match="portz"):
        ComposeSpecification.model_validate(broken)


def test_the_receiver_serves_triggers_against_the_compose_server_and_the_store_is_on_postgresql() -> None:
    services = _compose()["services"]
    receiver, worker = services["q2c-receiver"], services["q2c-worker"]

    assert (
        "q2c receiver" in receiver["command"][-1] and receiver["environment"]["Q2C_TEMPORAL_ADDRESS"] == "temporal:7233"
    )
    assert receiver["environment"]["Q2C_SALESFORCE_ORGANIZATION_ID"]
    for service in (receiver, worker):
        assert service["environment"]["Q2C_DATABASE_URL"].startswith("postgresql+asyncpg://")
        assert service["environment"]["Q2C_DATABASE_URL"].endswith(
            "/" + services["postgresql"]["environment"]["POSTGRES_DB"]
        )
