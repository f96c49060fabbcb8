"""What the operational store refuses, in words an operator can act on."""

from __future__ import annotations

from typing import Any


class StoreError(Exception):
    """Base of the store's own errors."""


class DuplicateReference(StoreError):
    """A canonical entity already has a different ID in that system; the store keeps the first and refuses."""

    def __init__(
        self,
        kind: str,
        canonical_id: str,
        version: int | None,
        system: str,
        existing_external_id: str,
        attempted_external_id: str,
        existing_saga_id: str,
    ) -> None:
        self.kind = kind
        self.canonical_id = canonical_id
        self.version = version
        self.system = system
        self.existing_external_id = existing_external_id
        self.attempted_external_id = attempted_external_id
        self.existing_saga_id = existing_saga_id
        entity = f"{kind} {canonical_id}" + (f" version {version}" if version is not None else "")
        super().__init__(
            f"{entity} is already {existing_external_id!r} in {system} (recorded by saga {existing_saga_id}); "
            f"refusing to record {attempted_external_id!r} for it as well"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (
            self.kind,
            self.canonical_id,
            self.version,
            self.system,
            self.existing_external_id,
            self.attempted_external_id,
            self.existing_saga_id,
        )


class AuditKeyConflict(StoreError):
    """An audit append reused an idempotency key with different content."""

    def __init__(self, idempotency_key: str, record_id: int) -> None:
        self.idempotency_key = idempotency_key
        self.record_id = record_id
        super().__init__(
            f"audit idempotency key {idempotency_key!r} already names record {record_id} with different content"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.idempotency_key, self.record_id)


class CaseNotFound(StoreError, LookupError):
    def __init__(self, case_id: int) -> None:
        self.case_id = case_id
        super().__init__(f"no exception case {case_id}")

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.case_id,)


class CaseClosed(StoreError):
    """The case was already closed (differently); closing it again would rewrite what happened."""

    def __init__(self, case_id: int, status: str, resolution: str | None) -> None:
        self.case_id = case_id
        self.status = status
        self.resolution = resolution
        super().__init__(f"exception case {case_id} is already {status}" + (f" ({resolution})" if resolution else ""))

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.case_id, self.status, self.resolution)
