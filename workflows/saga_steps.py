"""What every q2c saga does the same way: call an activity under the saga policy's retry rules, wait for people
with a deadline, key its writes by workflow ID and step, and keep its search attributes current.

A step whose activity fails permanently parks the saga in *needs attention* (`ParkedStep`) instead of failing it:
finance-system writes are idempotent, so once someone fixes the cause, `retry` runs the step again and the saga
carries on where it stopped, with nothing half-written and nothing duplicated. A parked saga opens a case in the
exception queue (`ExceptionCases`) and closes it, saying who moved it on and why, when it resumes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from enum import StrEnum
from typing import Any, Protocol, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey, SearchAttributeUpdate
from temporalio.exceptions import ActivityError, ApplicationError, FailureError, is_cancelled_exception

with workflow.unsafe.imports_passed_through():
    import workflows.search_attributes as sa  # "from workflows import" would re-run the module in each sandbox
    from activities.exception_queue import CaseAction, CaseClosing, ExceptionQueueActivities, ParkedCase
    from canonical.money import Money
    from canonical.problems import ExceptionCategory
    from canonical.saga import Resubmission, SagaException, SagaStatus
    from canonical.saga_policy import SagaPolicy, SearchAttributeUpdates

R = TypeVar("R")
SAGA_EXPIRED = "SagaExpired"
# Sagas started before the exception queue park without opening cases; their histories replay without it.
EXCEPTION_CASES_PATCH = "q2c-exception-cases"
CASE_ACTIVITY_ATTEMPTS = 10  # the queue is a record: an outage of it must not hold a resumed saga for long


async def call(
    policy: SagaPolicy, activity: Callable[..., Awaitable[R]], *args: Any, summary: str, attempts: int = 0
) -> R:
    """Run an activity method; transient errors are retried by the server with the policy's back-off."""
    return await workflow.execute_activity_method(
        activity,
        args=list(args),
        summary=summary,
        start_to_close_timeout=policy.activity_timeout,
        retry_policy=RetryPolicy(
            initial_interval=policy.retry_initial_interval,
            maximum_interval=policy.retry_maximum_interval,
            maximum_attempts=attempts,
        ),
    )


async def wait_for(condition: Callable[[], bool], timeout: timedelta) -> bool:
    """True when `condition` held before `timeout` ran out."""
    try:
        await workflow.wait_condition(condition, timeout=timeout)
    except TimeoutError:
        return False
    return True


def step_key(step: str) -> str:
    """The idempotency key of one step of this saga: the same on every retry, replay and worker."""
    return f"{workflow.info().workflow_id}/{step}"


def exception_from(error: ActivityError | None, step: str) -> SagaException:
    """The business category an adapter put on a permanent failure (see `activities.temporal_errors`)."""
    if error is None:
        return SagaException(category=ExceptionCategory.SYSTEM_REJECTED, message="the saga was cancelled")
    cause = error.cause
    message = cause.message if isinstance(cause, FailureError) else str(error)
    category = ExceptionCategory.SYSTEM_REJECTED
    if isinstance(cause, ApplicationError) and cause.type in set(ExceptionCategory):
        category = ExceptionCategory(cause.type)
    return SagaException(category=category, message=f"{step} failed: {message}")


class SearchAttributes:
    """Keeps a saga's search attributes current, upserting only what changed, all of it in one command.

    Under `SearchAttributeUpdates.STATUS_CHANGES` it upserts only when the status changes: what the start request
    set counts as published, and the step, contract, amount and exception travel with the next status change. So
    they are exact wherever a saga stops (waiting for people, parked, finished), and a running saga's live step is
    in the UI's current details and its pending activity.
    """

    def __init__(self, updates: SearchAttributeUpdates) -> None:
        self._on_status_change = updates is SearchAttributeUpdates.STATUS_CHANGES
        started_with = workflow.info().typed_search_attributes if self._on_status_change else []
        self._published: dict[str, Any] = {pair.key.name: pair.value for pair in started_with}

    def publish(self, wanted: Mapping[SearchAttributeKey[Any], Any], details: str) -> None:
        changed = [key for key, new in wanted.items() if self._changes(key, new)]
        if self._on_status_change and all(key.name != sa.SAGA_STATUS.name for key in changed):
            changed = []
        if changed:
            workflow.upsert_search_attributes([self._update(key, wanted[key]) for key in changed])
        workflow.set_current_details(details)

    def _changes(self, key: SearchAttributeKey[Any], new: Any) -> bool:
        return self._published.get(key.name) != new and not (new is None and key.name not in self._published)

    def _update(self, key: SearchAttributeKey[Any], new: Any) -> SearchAttributeUpdate[Any]:
        self._published[key.name] = new
        return key.value_set(new) if new is not None else key.value_unset()


def expired(message: str) -> ApplicationError:
    """How a saga ends when nobody fixed what parked it before the policy's deadline."""
    return ApplicationError(message, type=SAGA_EXPIRED, non_retryable=True)


class ExceptionCases:
    """The exception-queue case of a parked saga: opened when it parks, closed when it resumes or expires.

    Runs only on the park path, under the `EXCEPTION_CASES_PATCH` patch. The queue is a record, not a step: if
    it cannot be written, the saga logs that and carries on.
    """

    def __init__(self, policy: SagaPolicy, at_risk: Callable[[], Money | None] = lambda: None) -> None:
        self._policy = policy
        self._at_risk = at_risk

    async def open(self, exception: SagaException) -> int | None:
        """The case's ID, or None (a saga from before the queue, or no store)."""
        if not workflow.patched(EXCEPTION_CASES_PATCH):
            return None
        case = ParkedCase(
            category=exception.category,
            description=exception.message or exception.category.value,
            amount_at_risk=self._at_risk(),
        )
        summary = f"Open an exception case: {exception.category.value}"
        case_id: int | None = await self._quietly(ExceptionQueueActivities.open_exception_case, case, summary)
        return case_id

    async def close(self, case_id: int | None, action: CaseAction, by: str, reason: str) -> None:
        if case_id is None:
            return
        closing = CaseClosing(case_id=case_id, action=action, by=by, reason=reason)
        await self._quietly(ExceptionQueueActivities.close_exception_case, closing, f"Close case {case_id}: {action}")

    async def close_resumed(self, case_id: int | None, request: Resubmission | None) -> None:
        """Someone fixed the cause and resumed the saga: they resolved the case."""
        by = request.requested_by if request is not None else "unknown"
        reason = (request.note if request is not None else "") or f"resumed by {by}"
        await self.close(case_id, CaseAction.RETRY, by, reason)

    async def close_expired(self, case_id: int | None, what: str) -> None:
        await self.close(case_id, CaseAction.DISMISS, "system", f"the saga expired: {what}")

    async def _quietly(self, activity: Callable[..., Awaitable[Any]], argument: Any, summary: str) -> Any:
        try:
            return await call(self._policy, activity, argument, summary=summary, attempts=CASE_ACTIVITY_ATTEMPTS)
        except ActivityError as error:
            if is_cancelled_exception(error):
                raise
            workflow.logger.warning("could not update the exception queue (%s): %s", summary, error.cause or error)
            return None


class ParkedStep:
    """Runs a step; on a permanent failure, parks until `request_retry()` or the policy's deadline.

    `on_park(exception)` lets the saga show the parking in its state and `on_expire()` its end. A cancellation
    is never parked: it propagates so the saga can end as cancelled. Each parking opens an exception case
    (`cases`) and the retry or the expiry closes it.
    """

    def __init__(self, policy: SagaPolicy, cases: ExceptionCases | None = None) -> None:
        self._policy = policy
        self._cases = cases if cases is not None else ExceptionCases(policy)
        self._retry_requested = False
        self._resumed_by: Resubmission | None = None
        self.parked = False

    def request_retry(self, request: Resubmission | None = None) -> None:
        self._retry_requested = True
        self._resumed_by = request

    async def run(
        self,
        attempt: Callable[[], Awaitable[R]],
        step: str,
        on_park: Callable[[SagaException], None],
        on_expire: Callable[[], None],
    ) -> R:
        while True:
            try:
                return await attempt()
            except ActivityError as error:
                if is_cancelled_exception(error):
                    raise
                exception = exception_from(error, step)
                on_park(exception)
            await self.wait_for_retry(step, on_expire, exception)

    async def wait_for_retry(
        self, step: str, on_expire: Callable[[], None], exception: SagaException | None = None
    ) -> None:
        """Wait for `request_retry()`; past the deadline, `on_expire()` and end the saga. With the `exception`
        that parked it, the parking is a case in the exception queue until then."""
        self.parked, self._retry_requested = True, False
        case_id = None if exception is None else await self._cases.open(exception)
        retried = await wait_for(lambda: self._retry_requested, self._policy.needs_attention_expire_after)
        self.parked = False
        if not retried:
            message = f"{step} was not fixed within {self._policy.needs_attention_expire_after}"
            await self._cases.close_expired(case_id, message)
            on_expire()
            raise expired(message)
        await self._cases.close_resumed(case_id, self._resumed_by)


class SagaState(Protocol):
    step: Any
    status: SagaStatus
    exception: SagaException | None


class SagaSteps:
    """Moves a saga's state from step to step, publishing each move, and runs each step's activity parked on a
    permanent failure (see `ParkedStep`). One per workflow instance."""

    def __init__(
        self,
        policy: SagaPolicy,
        state: SagaState,
        publish: Callable[[], None],
        at_risk: Callable[[], Money | None] = lambda: None,
    ) -> None:
        """`at_risk`: the business impact of a parking (the document's or contract's amount), when known."""
        self.policy = policy
        self.parking = ParkedStep(policy, ExceptionCases(policy, at_risk))
        self._state = state
        self._publish = publish

    async def run(self, step: StrEnum, activity: Callable[..., Awaitable[R]], *args: Any, summary: str) -> R:
        async def attempt() -> R:
            self.move_to(step, SagaStatus.RUNNING, exception=None)
            return await call(self.policy, activity, *args, summary=summary)

        return await self.parking.run(
            attempt,
            step.value,
            on_park=lambda exception: self.move_to(step, SagaStatus.NEEDS_ATTENTION, exception=exception),
            on_expire=lambda: self.move_to(step, SagaStatus.EXPIRED),
        )

    async def park(self, step: StrEnum, exception: SagaException) -> None:
        """Park on a problem found without a failed activity (e.g. a mapping's problems) until `retry`."""
        self.move_to(step, SagaStatus.NEEDS_ATTENTION, exception=exception)
        await self.parking.wait_for_retry(step.value, lambda: self.move_to(step, SagaStatus.EXPIRED), exception)

    def move_to(self, step: StrEnum, status: SagaStatus | None = None, *, exception: object = ...) -> None:
        self._state.step = step
        if status is not None:
            self._state.status = status
        if exception is not ...:
            assert exception is None or isinstance(exception, SagaException)
            self._state.exception = exception
        self._publish()

    def validate_retry(self) -> None:
        if not self.parking.parked:
            raise ValueError(f"only a parked saga can be retried (status {self._state.status})")
