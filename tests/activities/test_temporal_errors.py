"""How adapter errors become Temporal's retry decisions; above all, how long an out-of-order event waits."""

from __future__ import annotations

import dataclasses

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.temporal_errors import TRANSIENT, classified_adapter_errors
from adapters.errors import OutOfOrderError
from canonical.problems import ExceptionCategory
from canonical.references import System


async def _record_early_invoice() -> None:
    with classified_adapter_errors():
        raise OutOfOrderError(
            System.REVENUE, "INV-1 bills line 3, which v1 does not have yet", ExceptionCategory.MASTER_DATA_MISMATCH, 3
        )


def _on_attempt(attempt: int) -> ActivityEnvironment:
    environment = ActivityEnvironment()
    environment.info = dataclasses.replace(environment.info, attempt=attempt)
    return environment


@pytest.mark.parametrize("attempt", [1, 2])
async def test_an_event_that_arrived_early_is_retried_while_within_its_patience(attempt: int) -> None:
    with pytest.raises(ApplicationError) as raised:
        await _on_attempt(attempt).run(_record_early_invoice)
    assert raised.value.type == TRANSIENT and not raised.value.non_retryable


async def test_once_its_patience_runs_out_it_parks_as_its_category() -> None:
    with pytest.raises(ApplicationError) as raised:
        await _on_attempt(3).run(_record_early_invoice)
    assert raised.value.type == ExceptionCategory.MASTER_DATA_MISMATCH.value and raised.value.non_retryable
    assert "v1 does not have yet" in raised.value.message
