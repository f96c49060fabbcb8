"""The audit chain's arithmetic: canonical JSON of a record's content and the hash that chains it.

`hash = sha256(previous_hash + canonical_json(content))`, where the content is every column but the hash
itself (the position `id`, the timestamp, the kind, who, the snapshots...). Canonical JSON: keys sorted, no
whitespace, UTF-8, no NaN or infinities, so the same content always gives the same bytes on any machine and
after any database round trip.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from adapters.store.tables import GENESIS_HASH, AuditRecordRow

__all__ = ["GENESIS_HASH", "canonical_json", "chain_hash", "record_content", "record_hash"]

# The columns a record's hash covers, in no particular order (canonical JSON sorts them).
HASHED_FIELDS = (
    "id",
    "recorded_at",
    "kind",
    "workflow_id",
    "run_id",
    "correlation_id",
    "actor",
    "source_system",
    "target_system",
    "source_payload",
    "mapping_version",
    "transformation",
    "posting_ack",
    "note",
    "idempotency_key",
)


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def normalised_json(value: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The JSON value as the database will give it back (tuples become lists, and so on)."""
    return None if value is None else dict(json.loads(canonical_json(value)))


def _timestamp(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def record_content(row: AuditRecordRow) -> dict[str, Any]:
    content = {name: getattr(row, name) for name in HASHED_FIELDS}
    content["recorded_at"] = _timestamp(row.recorded_at)
    return content


def chain_hash(previous_hash: str, content: Mapping[str, Any]) -> str:
    return hashlib.sha256((previous_hash + canonical_json(content)).encode("utf-8")).hexdigest()


def record_hash(row: AuditRecordRow) -> str:
    """The hash `row` should carry, given its content and its `previous_hash`."""
    return chain_hash(row.previous_hash, record_content(row))
