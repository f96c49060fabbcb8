"""What every q2c saga does the same way: call an activity under the saga policy's retry rules, wait for people
with a deadline, key its writes by workflow ID and step, and keep its search attributes current.

A step whose activity fails permanently parks the saga in *needs attention* (`ParkedStep`) instead of failing it:
finance-system writes are idempotent, so once someone fixes the cause, `retry` runs the step again and the saga
carries on where it stopped, with nothing half-written and nothing duplicated.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from enum import StrEnum
from typing import Any, Protocol, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey
from temporalio.exceptions import ActivityError, ApplicationError, FailureError, is_cancelled_exception

with workflow.unsafe.imports_passed_through():
    from canonical.problems import ExceptionCategory
    from canonical.saga import SagaException, SagaStatus
    from canonical.saga_policy import SagaPolicy

R = TypeVar("R")
SAGA_EXPIRED = "SagaExpired"


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
    """Upserts only what changed since the last publish, so the history stays short."""

    def __init__(self) -> None:
        self._published: dict[str, Any] = {}

    def publish(self, wanted: Mapping[SearchAttributeKey[Any], Any], details: str) -> None:
        updates = []
        for key, new in wanted.items():
            if self._published.get(key.name) != new and not (new is None and key.name not in self._published):
                updates.append(key.value_set(new) if new is not None else key.value_unset())
                self._published[key.name] = new
        if updates:
            workflow.upsert_search_attributes(updates)
        workflow.set_current_details(details)


def expired(message: str) -> ApplicationError:
    """How a saga ends when nobody fixed what parked it before the policy's deadline."""
    return ApplicationError(message, type=SAGA_EXPIRED, non_retryable=True)


class ParkedStep:
    """Runs a step; on a permanent failure, parks until `request_retry()` or the policy's deadline.

    `on_park(exception)` lets the saga show the parking in its state and `on_expire()` its end. A cancellation
    is never parked: it propagates so the saga can end as cancelled.
    """

    def __init__(self, policy: SagaPolicy) -> None:
        self._policy = policy
        self._retry_requested = False
        self.parked = False

    def request_retry(self) -> None:
        self._retry_requested = True

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
                on_park(exception_from(error, step))
            await self.wait_for_retry(step, on_expire)

    async def wait_for_retry(self, step: str, on_expire: Callable[[], None]) -> None:
        """Wait for `request_retry()`; past the deadline, `on_expire()` and end the saga."""
        self.parked, self._retry_requested = True, False
        retried = await wait_for(lambda: self._retry_requested, self._policy.needs_attention_expire_after)
        self.parked = False
        if not retried:
            on_expire()
            raise expired(f"{step} was not fixed within {self._policy.needs_attention_expire_after}")


class SagaState(Protocol):
    step: Any
    status: SagaStatus
    exception: SagaException | None


class SagaSteps:
    """Moves a saga's state from step to step, publishing each move, and runs each step's activity parked on a
    permanent failure (see `ParkedStep`). One per workflow instance."""

    def __init__(self, policy: SagaPolicy, state: SagaState, publish: Callable[[], None]) -> None:
        self.policy = policy
        self.parking = ParkedStep(policy)
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
        await self.parking.wait_for_retry(step.value, lambda: self.move_to(step, SagaStatus.EXPIRED))

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
