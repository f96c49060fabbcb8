"""q2c's built-in ASC 606 / IFRS 15 revenue engine: pure functions over small immutable records.

No I/O, no database, no Temporal: the same contract, usage and events always give the same allocations,
schedules, journals and reports, so a saga can call it from an activity and replay safely. Money is
`canonical.money.Money` (Decimal, ISO 4217); hot loops run on integer minor units and hand back `Money`.

Pipeline: `obligations` (step 2 of the five-step model: identify performance obligations) →
`allocation` (step 4: allocate the transaction price) → `recognition` (step 5: plans and schedules per
`calendar` period; `usage` prices variable consideration) → `ledger` (balances and balanced `journal`
entries, `exchange` for the functional currency) → `reports` (rendered by `tables`).
`modifications` revises allocations and plans when a contract changes (ASC 606-10-25-10..13);
`contract_versions` turns a contract's next version into such a modification; `book` keeps it all, event by event.
`benchmark` is a throughput script, not part of the engine.
"""
