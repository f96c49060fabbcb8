"""The finance console through its HTTP interface (httpx on the ASGI app): sign-in, roles, CSRF, the approvals
inbox deciding a real saga through its Update, saga search, the exception queue, and the audit trail."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from adapters.memory.reference_deals import demo_deals
from adapters.memory.systems import InMemorySystems
from adapters.store import OperationalStore, sqlite_url
from canonical.mapping_rules import MappingRules
from canonical.money import Money
from canonical.problems import ExceptionCategory
from canonical.saga import ClosedWonState, SagaStatus
from canonical.saga_policy import SagaPolicy
from receiver.console.sessions import COOKIE_NAME
from tests.receiver.conftest import RefusingTemporal
from tests.receiver.console_stack import (
    audit_of,
    console_app,
    csrf_token,
    deal_awaiting_approval,
    own_temporal,
    sign_in,
)
from workers.closed_won_worker import build_worker

BASE = "http://console.test"


@pytest.fixture(scope="module")
async def temporal() -> AsyncIterator[WorkflowEnvironment]:
    async with own_temporal() as env:
        yield env


@pytest.fixture
async def offline(tmp_path: Path, fast_policy: SagaPolicy) -> AsyncIterator[tuple[httpx.AsyncClient, RefusingTemporal]]:
    """A console whose Temporal must never be reached: what it refuses, it refuses before any saga is touched."""
    refusing = RefusingTemporal()
    async with (
        console_app(tmp_path, refusing, fast_policy) as app,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http,
    ):
        yield http, refusing


@pytest.fixture
async def live(
    tmp_path: Path, temporal: WorkflowEnvironment, fast_policy: SagaPolicy, mapping_rules: MappingRules
) -> AsyncIterator[tuple[httpx.AsyncClient, InMemorySystems, str]]:
    """A console on a real dev server, with a worker on in-memory systems; yields the HTTP client, the systems and
    the worker's task queue."""
    systems = InMemorySystems()
    for deal in demo_deals():
        systems.crm.save_deal(deal)
    task_queue = f"console-{uuid.uuid4()}"

    async def client() -> Client:
        return temporal.client

    async with (
        build_worker(temporal.client, task_queue, systems.ports(), mapping_rules),
        console_app(tmp_path, client, fast_policy) as app,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http,
    ):
        yield http, systems, task_queue


# --- sign-in ---------------------------------------------------------------------------------------------


async def test_every_page_needs_a_signed_in_user(offline: tuple[httpx.AsyncClient, RefusingTemporal]) -> None:
    http, temporal = offline
    for page in ("/console/approvals", "/console/sagas?status=running", "/console/exceptions", "/console/saga?id=x"):
        answer = await http.get(page)
        assert answer.status_code == 303
        assert answer.headers["location"] == f"/console/login?next={quote(page, safe='')}"
    assert temporal.calls == 0


async def test_a_wrong_password_or_unknown_user_signs_nobody_in(
    offline: tuple[httpx.AsyncClient, RefusingTemporal],
) -> None:
    http, _ = offline
    for name, password in (("fiona.finance", "not-her-password"), ("mallory", "anything")):
        answer = await sign_in(http, name, password)
        assert answer.status_code == 401
        assert "Wrong user name or password." in answer.text
    assert (await http.get("/console/exceptions")).status_code == 303  # still not signed in


async def test_signing_in_sets_a_strict_httponly_session_and_a_new_csrf_token(
    offline: tuple[httpx.AsyncClient, RefusingTemporal],
) -> None:
    http, _ = offline
    anonymous_token = csrf_token((await http.get("/console/login")).text)

    answer = await sign_in(http, "olga.ops")

    assert answer.status_code == 303 and answer.headers["location"] == "/console/approvals"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE_NAME}=") and "HttpOnly" in cookie and "SameSite=strict" in cookie
    page = await http.get("/console/exceptions")
    assert page.status_code == 200 and "olga.ops (operations)" in page.text
    assert csrf_token(page.text) != anonymous_token  # no session fixation: signing in starts a new session
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


async def test_a_tampered_session_cookie_is_not_a_session(offline: tuple[httpx.AsyncClient, RefusingTemporal]) -> None:
    http, _ = offline
    await sign_in(http, "olga.ops")
    value = http.cookies[COOKIE_NAME]
    http.cookies.clear()
    http.cookies.set(COOKIE_NAME, value[:-2] + ("AA" if not value.endswith("AA") else "BB"))
    assert (await http.get("/console/exceptions")).status_code == 303


async def test_sign_out_ends_the_session(offline: tuple[httpx.AsyncClient, RefusingTemporal]) -> None:
    http, _ = offline
    await sign_in(http, "olga.ops")
    token = csrf_token((await http.get("/console/exceptions")).text)
    answer = await http.post("/console/logout", data={"csrf_token": token})
    assert answer.status_code == 303 and answer.headers["location"] == "/console/login"
    assert (await http.get("/console/exceptions")).status_code == 303


# --- CSRF and roles --------------------------------------------------------------------------------------


@pytest.mark.parametrize("token", [None, "forged-token"])
async def test_a_form_without_the_sessions_csrf_token_is_refused(
    offline: tuple[httpx.AsyncClient, RefusingTemporal], token: str | None
) -> None:
    http, temporal = offline
    form = {"username": "fiona.finance", "password": "fiona-demo-password"}
    refused_sign_in = await http.post("/console/login", data=form | ({"csrf_token": token} if token else {}))
    assert refused_sign_in.status_code == 403 and "CSRF" in refused_sign_in.text

    await sign_in(http, "fiona.finance")
    decision = {"workflow_id": "closed-won/006NW0000000003", "verdict": "approve", "note": "ok"}
    refused = await http.post("/console/approvals/decide", data=decision | ({"csrf_token": token} if token else {}))
    assert refused.status_code == 403 and "CSRF" in refused.text
    assert temporal.calls == 0  # refused before any saga was reached


async def test_a_viewer_may_not_approve_and_operations_may_not_either(
    offline: tuple[httpx.AsyncClient, RefusingTemporal],
) -> None:
    http, temporal = offline
    for name in ("vic.viewer", "olga.ops"):
        await sign_in(http, name)
        token = csrf_token((await http.get("/console/exceptions")).text)
        decision = {"csrf_token": token, "workflow_id": "closed-won/006NW0000000003", "verdict": "approve"}
        answer = await http.post("/console/approvals/decide", data=decision)
        assert answer.status_code == 403
        assert f"{name} signs in as" in answer.text and "only the approver role may approve" in answer.text
    assert temporal.calls == 0


# --- approvals -------------------------------------------------------------------------------------------


async def test_an_approver_approves_a_pending_deal_and_the_decision_is_audited(
    live: tuple[httpx.AsyncClient, InMemorySystems, str],
    temporal: WorkflowEnvironment,
    fast_policy: SagaPolicy,
    tmp_path: Path,
) -> None:
    http, systems, task_queue = live
    pending = await deal_awaiting_approval(temporal.client, systems, fast_policy, task_queue)
    await sign_in(http, "fiona.finance")

    inbox = await http.get("/console/approvals")
    assert inbox.status_code == 200
    assert pending.workflow_id in inbox.text
    assert "Total contract value 210,000.00 USD" in inbox.text
    assert "discount 30% exceeds 15%" in inbox.text
    form = {"csrf_token": csrf_token(inbox.text), "workflow_id": pending.workflow_id, "verdict": "approve"}
    answer = await http.post("/console/approvals/decide", data=form | {"note": "strategic logo"})

    assert answer.status_code == 303
    assert answer.headers["location"] == f"/console/saga?id={quote(pending.workflow_id, safe='')}&done=approved"
    result: ClosedWonState = await temporal.client.get_workflow_handle(
        pending.workflow_id, result_type=ClosedWonState
    ).result()
    assert result.status is SagaStatus.COMPLETED
    assert result.decision is not None and result.decision.decision.approver == "fiona.finance"
    assert result.decision.decision.note == "strategic logo"
    [audit] = await audit_of(tmp_path, pending.workflow_id)
    assert (audit["kind"], audit["actor"], audit["note"]) == ("approval", "fiona.finance", "strategic logo")
    assert audit["posting_ack"]["outcome"] == "recorded"  # type: ignore[index]
    saga_page = await http.get(answer.headers["location"])
    assert "Approved: the saga carries on provisioning." in saga_page.text
    assert 'id="saga-status">completed<' in saga_page.text


async def test_the_sagas_validator_still_judges_and_its_refusal_is_shown_and_audited(
    live: tuple[httpx.AsyncClient, InMemorySystems, str],
    temporal: WorkflowEnvironment,
    fast_policy: SagaPolicy,
    tmp_path: Path,
) -> None:
    http, systems, task_queue = live
    pending = await deal_awaiting_approval(temporal.client, systems, fast_policy, task_queue)
    await sign_in(http, "sam.seller")  # the console lets approvers decide; the saga refuses the deal's owner
    token = csrf_token((await http.get("/console/approvals")).text)

    form = {"csrf_token": token, "workflow_id": pending.workflow_id, "verdict": "approve", "note": "my own deal"}
    answer = await http.post("/console/approvals/decide", data=form)

    assert answer.status_code == 409
    assert "the saga refused" in answer.text and "owns this deal" in answer.text
    state = await temporal.client.get_workflow_handle(pending.workflow_id).query("state", result_type=ClosedWonState)
    assert state.status is SagaStatus.AWAITING_APPROVAL and state.decision is None
    [audit] = await audit_of(tmp_path, pending.workflow_id)
    assert audit["actor"] == "sam.seller" and audit["posting_ack"]["outcome"] == "refused"  # type: ignore[index]

    no_note = form | {"verdict": "reject", "note": " "}
    assert (await http.post("/console/approvals/decide", data=no_note)).status_code == 422
    await temporal.client.get_workflow_handle(pending.workflow_id).terminate(reason="test done")  # leave no inbox


async def test_saga_search_finds_by_opportunity_and_status_and_links_to_the_temporal_ui(
    live: tuple[httpx.AsyncClient, InMemorySystems, str], temporal: WorkflowEnvironment, fast_policy: SagaPolicy
) -> None:
    http, systems, task_queue = live
    pending = await deal_awaiting_approval(temporal.client, systems, fast_policy, task_queue)
    await sign_in(http, "vic.viewer")

    found = await http.get("/console/sagas", params={"opportunity": pending.opportunity_id})
    by_status = await http.get("/console/sagas", params={"status": "awaiting_approval", "type": "closed_won"})
    refused = await http.get("/console/sagas", params={"contract": "x' OR 1=1"})

    link = f"http://127.0.0.1:8233/namespaces/default/workflows/{quote(pending.workflow_id, safe='')}"
    assert found.status_code == 200 and pending.workflow_id in found.text and link in found.text
    assert pending.workflow_id in by_status.text
    assert refused.status_code == 400 and "contract: &#34;x&#39; OR 1=1&#34; is not an ID" in refused.text
    inbox = await http.get("/console/approvals")
    assert pending.workflow_id in inbox.text and "only approvers decide" in inbox.text  # read-only for viewers
    await temporal.client.get_workflow_handle(pending.workflow_id).terminate(reason="test done")


# --- exception queue -------------------------------------------------------------------------------------


async def test_operations_resolves_an_exception_case_with_a_reason_and_it_is_audited(
    offline: tuple[httpx.AsyncClient, RefusingTemporal], tmp_path: Path
) -> None:
    http, _ = offline
    async with await OperationalStore.open(sqlite_url(tmp_path / "q2c.sqlite")) as store:
        case = await store.open_case(
            "invoice-to-revenue/in_123",
            ExceptionCategory.MAPPING_MISSING,
            "no ERP item for SKU-9",
            Money.of("450", "USD"),
        )
    await sign_in(http, "vic.viewer")
    queue = await http.get("/console/exceptions")
    assert "mapping_missing" in queue.text and "450.00 USD" in queue.text and "no ERP item for SKU-9" in queue.text
    form = {"csrf_token": csrf_token(queue.text), "case_id": str(case.id), "action": "dismiss", "reason": "dup"}
    assert (await http.post("/console/exceptions/resolve", data=form)).status_code == 403

    await sign_in(http, "olga.ops")
    token = csrf_token((await http.get("/console/exceptions")).text)
    no_reason = await http.post("/console/exceptions/resolve", data=form | {"csrf_token": token, "reason": ""})
    done = await http.post("/console/exceptions/resolve", data=form | {"csrf_token": token})

    assert no_reason.status_code == 422
    assert done.status_code == 303
    async with await OperationalStore.open(sqlite_url(tmp_path / "q2c.sqlite")) as store:
        closed = await store.case(case.id)
    assert closed.status.value == "dismissed" and closed.history[-1].by == "olga.ops"
    audits = [a for a in await audit_of(tmp_path, case.workflow_id) if a["kind"] == "exception_resolved"]
    assert [(a["actor"], a["note"]) for a in audits] == [("olga.ops", f"case {case.id} dismiss: dup")]
    assert "No open exception cases." in (await http.get("/console/exceptions")).text
    assert Decimal("450") == case.amount_at_risk.amount  # type: ignore[union-attr]
