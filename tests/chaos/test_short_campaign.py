"""The short fault campaign, as CI runs it: every scenario on its own real stack (dev server on SQLite and a worker
in separate processes, the emulators, the receiver), a few deals each, a fixed seed. The campaign's own checks are
the assertions: nothing lost, stuck, duplicated or unbalanced; bad input refused or parked, never posted."""

from __future__ import annotations

from pathlib import Path

from canonical.mapping_rules import MappingRules
from cli.chaos.campaign import SHORT_SAGAS, run_campaign
from cli.chaos.figures import table
from cli.chaos.scenarios import SCENARIOS
from workers.config_files import load_saga_policy


async def test_the_short_campaign_loses_and_duplicates_nothing(mapping_rules: MappingRules, tmp_path: Path) -> None:
    rows = await run_campaign(
        SCENARIOS,
        sagas=SHORT_SAGAS,
        fault_rate=0.05,
        seed=1,
        state_dir=tmp_path / "chaos",
        rules=mapping_rules,
        policy=load_saga_policy(),
        settle_seconds=60,
        short=True,
    )

    print("\n".join(table(rows)))
    assert [row.scenario for row in rows] == list(SCENARIOS)
    # Nothing lost, stuck, duplicated or unbalanced; no standard saga parked and no reconciliation break either.
    assert {row.scenario: row.problems for row in rows} == {name: [] for name in SCENARIOS}
    assert {row.scenario: row.findings for row in rows} == {name: [] for name in SCENARIOS}
    disturbed = {row.scenario: row.faults_injected for row in rows}
    assert all(times > 0 for times in disturbed.values()), disturbed
    provisioned = {row.scenario: (row.completed, row.duplicates_found) for row in rows if row.scenario != "bad-input"}
    assert all(completed >= SHORT_SAGAS and duplicates == 0 for completed, duplicates in provisioned.values())
    [bad] = [row for row in rows if row.scenario == "bad-input"]
    assert bad.parked >= SHORT_SAGAS and bad.completed == 0
