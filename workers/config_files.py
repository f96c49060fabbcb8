"""Read and validate the human-edited configuration files; every error names the file and the field."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from pydantic import ValidationError

from canonical.mapping_rules import MappingRules, parse_mapping_rules
from canonical.problems import InvalidRecordError, problems_from_validation_error
from canonical.saga_policy import SagaPolicy

PROJECT_CONFIG = Path(__file__).resolve().parent.parent / "config"


class ConfigFileError(ValueError):
    pass


def mapping_rules_path(explicit: Path | None = None) -> Path:
    return explicit or Path(os.environ.get("Q2C_MAPPING_RULES", PROJECT_CONFIG / "mapping-rules.toml"))


def saga_policy_path(explicit: Path | None = None) -> Path:
    return explicit or Path(os.environ.get("Q2C_SAGA_POLICY", PROJECT_CONFIG / "saga-policy.toml"))


def load_mapping_rules(path: Path | None = None) -> MappingRules:
    source = mapping_rules_path(path)
    text = _read(source)
    try:
        return parse_mapping_rules(text, source=str(source))
    except (ValueError, InvalidRecordError) as error:
        raise ConfigFileError(str(error)) from error


def load_saga_policy(path: Path | None = None) -> SagaPolicy:
    source = saga_policy_path(path)
    try:
        return SagaPolicy.model_validate(tomllib.loads(_read(source)))
    except tomllib.TOMLDecodeError as error:
        raise ConfigFileError(f"{source} is not valid TOML: {error}") from error
    except ValidationError as error:
        problems = problems_from_validation_error(str(source), error)
        raise ConfigFileError("; ".join(str(p) for p in problems)) from error


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigFileError(f"cannot read {path}: {error.strerror}") from error
