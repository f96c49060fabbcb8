"""`q2c audit verify`: recompute the audit trail's hash chain and say where it breaks, if it does."""

from __future__ import annotations

import argparse

from cli import output
from cli.store_access import database_url, opened_store

EXIT_BROKEN = 1


async def verify(args: argparse.Namespace) -> int:
    async with opened_store(args.database) as store:
        head_id, head_hash = await store.audit_chain_head()
        broken = await store.verify_audit_chain()
    where = database_url(args.database)
    if broken is not None:
        output.error(f"the audit chain is broken at record {broken.record_id} ({broken.kind.value}): {broken}")
        output.say(f"  expected  {broken.expected}")
        output.say(f"  found     {broken.found}")
        return EXIT_BROKEN
    output.say(f"The audit chain holds: {head_id} record(s), every one chained to the one before ({where}).")
    output.say(f"  chain head  {head_id}:{head_hash}")
    output.say("  (publish the chain head elsewhere to detect a rewrite of the whole chain)")
    return 0
