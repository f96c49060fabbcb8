"""Adapter errors, classified once, here, so activities and workflows never parse vendor error bodies.

- TransientAdapterError: a 5xx, a timeout, a dropped connection: Temporal retries with back-off.
- RateLimitedError: a 429 or the vendor's equivalent: Temporal retries after the vendor's hinted delay.
- PermanentAdapterError: the vendor refused the request for a business reason: no retry; the saga
  compensates and the category tells which team owns the fix.
"""

from __future__ import annotations

from datetime import timedelta

from canonical.problems import ExceptionCategory
from canonical.references import System


class AdapterError(Exception):
    def __init__(self, system: System, message: str) -> None:
        super().__init__(f"{system.value}: {message}")
        self.system = system
        self.message = message


class TransientAdapterError(AdapterError):
    pass


class OutOfOrderError(TransientAdapterError):
    """An event that arrived before what it depends on (an invoice before its amendment): retried while the other
    is on its way; after `patience` attempts it is a permanent `category` problem, so the saga parks for a person
    instead of retrying forever."""

    def __init__(self, system: System, message: str, category: ExceptionCategory, patience: int = 12) -> None:
        super().__init__(system, message)
        self.category = category
        self.patience = patience


class RateLimitedError(AdapterError):
    def __init__(self, system: System, message: str, retry_after: timedelta) -> None:
        super().__init__(system, message)
        self.retry_after = retry_after


class PermanentAdapterError(AdapterError):
    def __init__(
        self, system: System, message: str, category: ExceptionCategory = ExceptionCategory.SYSTEM_REJECTED
    ) -> None:
        super().__init__(system, message)
        self.category = category


class NotFoundError(PermanentAdapterError):
    def __init__(self, system: System, message: str) -> None:
        super().__init__(system, message, ExceptionCategory.MASTER_DATA_MISMATCH)
