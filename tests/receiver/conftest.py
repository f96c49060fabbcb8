"""Receivers served over real HTTP: one starting sagas on the session's Temporal dev server, one whose Temporal
must never be reached (for refusals)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from canonical.saga_policy import SagaPolicy
from receiver.app import ReceiverSettings, create_receiver_app
from sandbox.servers import serve_apps
from tests.receiver.schemes import ExpectedSaga, Scheme, receiver_settings
from workers.dev_server import free_port


class RefusingTemporal:
    """The Temporal client factory of a receiver that must start nothing: counts the times it was reached for."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self) -> Client:
        self.calls += 1
        raise AssertionError("a delivery that should start nothing reached for Temporal")


@dataclass
class Receiver:
    http: httpx.AsyncClient
    url: str

    async def deliver(self, scheme: Scheme, body: bytes, **signing: object) -> httpx.Response:
        """POST `body` to the scheme's endpoint, signed as its sender signs (`signing`: secret=..., at=...)."""
        headers = scheme.sign(self.url + scheme.path, body, **signing)
        return await self.http.post(scheme.path, content=body, headers=headers)


@dataclass
class LiveReceiver(Receiver):
    client: Client
    task_queue: str  # no worker polls it: the sagas it starts wait there until the fixture terminates them
    checked: list[str] = field(default_factory=list)

    async def assert_started_once(self, expected: ExpectedSaga) -> None:
        """The saga exists, of the right type, on our task queue, for the right object, in exactly one run."""
        self.checked.append(expected.workflow_id)
        handle = self.client.get_workflow_handle(expected.workflow_id)
        description = await handle.describe()
        assert description.workflow_type == expected.workflow_type
        assert description.status == WorkflowExecutionStatus.RUNNING
        assert description.task_queue == self.task_queue
        history = await handle.fetch_history()
        started = history.events[0].workflow_execution_started_event_attributes
        [payload] = await self.client.data_converter.decode(started.input.payloads, [expected.input_type])
        assert getattr(payload, expected.object_field) == expected.object_id
        runs = [e async for e in self.client.list_workflows(f"WorkflowId = '{expected.workflow_id}'")]
        assert len(runs) == 1

    async def assert_not_started(self, expected: ExpectedSaga) -> None:
        with pytest.raises(RPCError):
            await self.client.get_workflow_handle(expected.workflow_id).describe()


@contextlib.asynccontextmanager
async def serving(app_client: object, settings: ReceiverSettings, policy: SagaPolicy) -> AsyncIterator[Receiver]:
    app = create_receiver_app(app_client, settings, lambda: policy)  # type: ignore[arg-type]
    async with (
        serve_apps({"receiver": (app, free_port())}) as urls,
        httpx.AsyncClient(base_url=urls["receiver"]) as http,
    ):
        yield Receiver(http, urls["receiver"])


@pytest.fixture
async def live_receiver(temporal_env: WorkflowEnvironment, fast_policy: SagaPolicy) -> AsyncIterator[LiveReceiver]:
    client = temporal_env.client

    async def temporal() -> Client:
        return client

    task_queue = f"receiver-{uuid.uuid4()}"
    async with serving(temporal, receiver_settings(task_queue), fast_policy) as receiver:
        live = LiveReceiver(receiver.http, receiver.url, client, task_queue)
        yield live
    for workflow_id in live.checked:
        with contextlib.suppress(RPCError):
            await client.get_workflow_handle(workflow_id).terminate(reason="receiver test done")


@pytest.fixture
def refusing_temporal() -> RefusingTemporal:
    return RefusingTemporal()


@pytest.fixture
async def refusing_receiver(refusing_temporal: RefusingTemporal, fast_policy: SagaPolicy) -> AsyncIterator[Receiver]:
    async with serving(refusing_temporal, receiver_settings(), fast_policy) as receiver:
        yield receiver
