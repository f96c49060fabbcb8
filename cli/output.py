"""How q2c prints: aligned label/value blocks, plain tables, money with thousands separators."""

from __future__ import annotations

import logging
import sys
import textwrap
from collections.abc import Sequence
from datetime import datetime

from canonical.money import Money
from canonical.saga import ClosedWonState, SagaStatus

Row = tuple[str, str | Sequence[str]]

INDENT = "  "


def say(text: str = "") -> None:
    print(text, flush=True)


def error(message: str) -> None:
    print(f"q2c: error: {message}", file=sys.stderr, flush=True)


class _WorkerLogFormatter(logging.Formatter):
    """One line per event: an activity that fails is part of a saga's story (it retries or compensates),
    so its traceback would only look like q2c crashing. The exception's own line is kept."""

    def formatException(self, ei: object) -> str:
        exception = ei[1] if isinstance(ei, tuple) and len(ei) > 1 else None
        return f"    {type(exception).__name__}: {exception}" if exception is not None else ""

    def formatStack(self, stack_info: str) -> str:
        return ""


def configure_worker_logging() -> None:
    """Warnings and errors of the embedded worker, to stderr, one line each with the time."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_WorkerLogFormatter("%(asctime)s worker %(levelname)s: %(message)s", "%H:%M:%S"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)


def wrapped(text: str, indent: str = "", width: int = 100) -> list[str]:
    return textwrap.wrap(text, width=width, initial_indent=indent, subsequent_indent=indent + "  ")


def money(value: Money | None) -> str:
    return "-" if value is None else f"{value.amount:,f} {value.currency}"


def when(moment: datetime | None) -> str:
    if moment is None:
        return "-"
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z").strip()


def fields(rows: Sequence[Row], indent: str = INDENT) -> list[str]:
    """`label   value` lines, labels padded to one width; a list value continues on following lines."""
    shown = [(label, value) for label, value in rows if value]
    width = max((len(label) for label, _ in shown), default=0)
    lines: list[str] = []
    for label, value in shown:
        values = [value] if isinstance(value, str) else list(value)
        lines.append(f"{indent}{label.ljust(width)}  {values[0]}")
        lines += [f"{indent}{' ' * width}  {more}" for more in values[1:]]
    return lines


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], indent: str = "") -> list[str]:
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=False)]

    def line(cells: Sequence[str]) -> str:
        return indent + "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()

    return [line(headers), line(["-" * width for width in widths]), *(line(row) for row in rows)]


def status_text(status: SagaStatus) -> str:
    notes = {
        SagaStatus.NEEDS_ATTENTION: "waiting for someone to fix the deal's data and resubmit",
        SagaStatus.AWAITING_APPROVAL: "waiting for a finance decision",
        SagaStatus.ESCALATED: "waiting for a finance decision, overdue",
        SagaStatus.COMPENSATING: "undoing what it created",
    }
    note = notes.get(status)
    return f"{status.value} ({note})" if note else status.value


def references(state: ClosedWonState) -> list[Row]:
    refs = state.references
    return [
        ("CRM account", refs.crm_account_id or ""),
        ("ERP customer", refs.erp_customer_id or ""),
        ("Billing customer", refs.billing_customer_id or ""),
        ("Subscription", refs.subscription_id or ""),
        ("Revenue contract", refs.revenue_contract_id or ""),
    ]


def decision(state: ClosedWonState) -> str:
    if state.decision is None:
        return ""
    made = state.decision.decision
    verdict = "approved" if made.approved else "rejected"
    note = f": {made.note}" if made.note else ""
    return f"{verdict} by {made.approver} at {when(state.decision.decided_at)}{note}"


def exception_lines(state: ClosedWonState) -> list[str]:
    if state.exception is None:
        return []
    exception = state.exception
    if not exception.problems:
        category = exception.category.value
        return [exception.message if category in exception.message else f"{category}: {exception.message}"]
    return [exception.category.value] + [f"- {problem}  [{problem.category.value}]" for problem in exception.problems]


def saga_summary(state: ClosedWonState, link: str, indent: str = INDENT) -> list[str]:
    """The outcome of one saga, as the demo and `q2c start --wait` print it."""
    return fields(
        [
            ("Status", status_text(state.status)),
            ("Opportunity", state.opportunity_id),
            ("Contract", state.contract_id or ""),
            ("Total contract value", money(state.total_contract_value) if state.total_contract_value else ""),
            *references(state),
            ("Approval", decision(state)),
            ("Exception", exception_lines(state)),
            ("Compensated", list(state.compensated)),
            ("Mapping rules version", state.mapping_version or ""),
            ("Saga policy version", state.policy_version or ""),
            ("Temporal UI", link),
        ],
        indent,
    )


def saga_details(
    workflow_id: str, state: ClosedWonState, execution: str, link: str, next_steps: Sequence[str]
) -> list[str]:
    """Everything `q2c show` knows about one saga."""
    refs = state.references
    opportunity = state.opportunity_id + (f" (CRM account {refs.crm_account_id})" if refs.crm_account_id else "")
    rows: list[Row] = [
        ("Status", status_text(state.status)),
        ("Step", state.step.value),
        ("Execution", execution),
        ("Opportunity", opportunity),
        ("Contract", state.contract_id or ""),
        ("Total contract value", money(state.total_contract_value) if state.total_contract_value else ""),
        ("Exception", exception_lines(state)),
        ("Approval reasons", [f"- {reason.message}" for reason in state.approval_reasons]),
        ("Decision", decision(state)),
        (
            "Resubmissions",
            [f"- by {r.requested_by}" + (f": {r.note}" if r.note else "") for r in state.resubmissions],
        ),
        *[row for row in references(state) if row[0] != "CRM account"],
        ("Compensated", [f"- {undone}" for undone in state.compensated]),
        ("Mapping rules version", state.mapping_version or ""),
        ("Saga policy version", state.policy_version or ""),
        ("Next", list(next_steps)),
        ("Temporal UI", link),
    ]
    return [f"Saga {workflow_id}", *fields(rows)]
