"""Adapter errors become Temporal's retry decisions here, and nowhere else.

Transient errors are raised as retryable; a rate limit asks the server to wait the vendor's hinted delay
(`next_retry_delay`); an event that arrived out of order is retried for its patience, then treated as permanent; a
permanent error is non-retryable and carries its business category as the error
type, so the workflow can compensate and say which team owns the fix.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from temporalio import activity
from temporalio.exceptions import ApplicationError

from adapters.errors import OutOfOrderError, PermanentAdapterError, RateLimitedError, TransientAdapterError

TRANSIENT = "TransientAdapterError"
RATE_LIMITED = "RateLimitedError"


@contextmanager
def classified_adapter_errors() -> Iterator[None]:
    try:
        yield
    except PermanentAdapterError as error:
        raise ApplicationError(str(error), type=error.category.value, non_retryable=True) from error
    except OutOfOrderError as error:
        if activity.in_activity() and activity.info().attempt >= error.patience:
            raise ApplicationError(str(error), type=error.category.value, non_retryable=True) from error
        raise ApplicationError(str(error), type=TRANSIENT) from error
    except RateLimitedError as error:
        raise ApplicationError(str(error), type=RATE_LIMITED, next_retry_delay=error.retry_after) from error
    except TransientAdapterError as error:
        raise ApplicationError(str(error), type=TRANSIENT) from error
