"""ContractSequencer: one per contract (`contract/<contract_id>`), it gives the sagas that change a contract their
turns, one at a time, in contract order.

Why this pattern: amendments to one contract must never interleave (two sagas reading version 1 and both
writing version 2 would lose one), and one that arrives early — made against a version that does not exist
yet — must wait for the one that makes that version. Temporal gives each workflow ID a single, durable,
serial event loop, so a long-lived workflow per contract is a lock and an ordered queue in one: sagas reach it
with signal-with-start (whoever comes first starts it), it grants turns by signalling them back, and it keeps its
history short by continuing as new with the queue it still holds. It ends when nobody waits; the next request
starts a new run. A turn whose saga has ended without releasing it (terminated by an operator) is taken back.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from canonical.amendment_saga import TurnRequest

SEQUENCER_PREFIX = "contract/"
TURN_GRANTED = "turn_granted"  # the signal a waiting saga receives
HOLDER_CHECK = "holder_check"  # a no-op signal: delivered means the holder still runs
IDLE_BEFORE_ENDING = timedelta(minutes=1)
CHECK_HOLDER_EVERY = timedelta(minutes=10)
GRANTS_BEFORE_CONTINUING_AS_NEW = 100


def sequencer_id(contract_id: str) -> str:
    return f"{SEQUENCER_PREFIX}{contract_id}"


@workflow.defn(name="ContractSequencer")
class ContractSequencer:
    def __init__(self) -> None:
        self._queue: list[TurnRequest] = []
        self._holder: str | None = None

    @workflow.run
    async def run(self, waiting: list[TurnRequest]) -> None:
        self._queue.extend(w for w in waiting if w.workflow_id not in {q.workflow_id for q in self._queue})
        for _ in range(GRANTS_BEFORE_CONTINUING_AS_NEW):
            if not await self._wait_for_someone():
                return
            request = self._next()
            self._holder = request.workflow_id
            await workflow.get_external_workflow_handle(request.workflow_id).signal(TURN_GRANTED)
            await self._wait_for_release(request.workflow_id)
        workflow.continue_as_new(list(self._queue))

    @workflow.signal
    def request_turn(self, request: TurnRequest) -> None:
        if request.workflow_id != self._holder and all(q.workflow_id != request.workflow_id for q in self._queue):
            self._queue.append(request)

    @workflow.signal
    def release(self, workflow_id: str) -> None:
        if self._holder == workflow_id:
            self._holder = None
        self._queue = [q for q in self._queue if q.workflow_id != workflow_id]

    @workflow.query
    def waiting(self) -> list[TurnRequest]:
        return list(self._queue)

    @workflow.query
    def holder(self) -> str | None:
        return self._holder

    def _next(self) -> TurnRequest:
        """The lowest version first (an amendment to version 3 waits for the one making 3), then arrival."""
        request = min(self._queue, key=lambda r: r.references_version)
        self._queue.remove(request)
        return request

    async def _wait_for_someone(self) -> bool:
        try:
            await workflow.wait_condition(lambda: bool(self._queue), timeout=IDLE_BEFORE_ENDING)
        except TimeoutError:
            return bool(self._queue)
        return True

    async def _wait_for_release(self, workflow_id: str) -> None:
        while True:
            try:
                await workflow.wait_condition(lambda: self._holder != workflow_id, timeout=CHECK_HOLDER_EVERY)
                return
            except TimeoutError:
                if not await self._still_running(workflow_id):
                    self._holder = None
                    return

    async def _still_running(self, workflow_id: str) -> bool:
        """A holder that has ended without releasing (terminated) gives its turn back. Signalling an ended
        workflow fails: that is how the sequencer finds out, without any I/O of its own."""
        try:
            await workflow.get_external_workflow_handle(workflow_id).signal(HOLDER_CHECK)
        except Exception:
            return False
        return True
