"""Determinism guard: today's workflow code must replay the committed histories of earlier runs.

A failure here means a change would break sagas already running in production: guard it with
`workflow.patched(...)`, a setting carried in the saga's input (the saga policy's `search_attribute_updates`)
or a new worker deployment version; keep the old histories in a folder of their own and only then re-record (closed-won:
`python -m tests.histories.record`; invoice → revenue and amendments: `Q2C_RECORD_HISTORIES=1 python -m
pytest tests/integration/test_invoice_to_revenue_over_http.py tests/integration/test_amendment_over_http.py`).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from workers.closed_won_worker import AMENDMENT_WORKFLOWS, INVOICING_WORKFLOWS, WORKFLOWS

HISTORY_DIR = Path(__file__).parent.parent / "histories"
# Histories of sagas started under an earlier behaviour stay committed in a folder named for it (every_step_...:
# before the saga policy's search_attribute_updates setting): sagas of that age must still replay.
HISTORIES = sorted(HISTORY_DIR.glob("**/*.json"))


def test_histories_are_committed() -> None:
    assert {p.stem for p in HISTORY_DIR.glob("every_step_search_attributes/*.json")} == {
        p.stem for p in HISTORY_DIR.glob("*.json")
    }, "each saga's history from before search_attribute_updates is kept"
    assert {p.stem for p in HISTORY_DIR.glob("*.json")} >= {
        "closed_won_standard_deal",
        "closed_won_approved_deal",
        "closed_won_resubmitted_deal",
        "closed_won_compensated_deal",
        "invoice_to_revenue_after_a_worker_restart",
        "invoice_to_revenue_parked_and_retried",
        "credit_note_period_chosen_by_controllership",
        "payment_settled",
        "period_close",
        "amendment_reference_expansion",
        "amendment_stale_then_retried",
        "amendment_waiting_for_an_earlier_one",
    }


@pytest.mark.parametrize("path", HISTORIES, ids=[str(p.relative_to(HISTORY_DIR).with_suffix("")) for p in HISTORIES])
async def test_current_code_replays_the_committed_history(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    replayer = Replayer(
        workflows=[*WORKFLOWS, *INVOICING_WORKFLOWS, *AMENDMENT_WORKFLOWS], data_converter=pydantic_data_converter
    )

    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)

    assert result.replay_failure is None, f"{path.name} no longer replays: {result.replay_failure}"
