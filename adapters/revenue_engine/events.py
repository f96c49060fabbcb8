"""The revenue engine's events as stored rows: what each one says (JSON payload), and how it folds into the book.

A payload holds the event's inputs in canonical JSON (amounts as decimal strings, dates ISO), the `outcome` the
method returned (so a repeated key gets exactly that back), for a close the per-contract `detail`, and for a
contract modification the `treatment` and `catch_ups` the book chose. Folding replays the inputs through
`revenue.book.RevenueBook`, which gives the same book, and the same outcomes, every time.

Stored keys are the caller's idempotency key under the event's kind (`billing_recorded/<key>`), because a port
uses one key for a step and its undo. Subjects name the business event itself (`document/in_123`,
`recognised/2027-03`, `modification/CTR-1/v2`), so the same document, close or contract version recorded under
another key finds the first.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

from canonical.amendment import Amendment
from canonical.amendment import ModificationFacts as AmendmentFacts
from canonical.billing_documents import BillingDocument, BillingPayment
from canonical.contract import Contract
from canonical.general_ledger import AccountingPeriod
from canonical.money import Money
from revenue.book import RecordedModification, RevenueBook, usage_month
from revenue.journal import JournalEntry
from revenue.modifications import ModificationFacts, Treatment
from revenue.usage import UsageCharge

MAX_KEY_LENGTH = 255  # the key and subject columns


class EventKind(StrEnum):
    CONTRACT_REGISTERED = "contract_registered"
    CONTRACT_WITHDRAWN = "contract_withdrawn"
    USAGE_CHARGE_RECORDED = "usage_charge_recorded"
    BILLING_RECORDED = "billing_recorded"
    PAYMENT_RECORDED = "payment_recorded"
    PERIOD_RECOGNISED = "period_recognised"
    PERIOD_LOCKED = "period_locked"
    CONTRACT_MODIFIED = "contract_modified"
    MODIFICATION_WITHDRAWN = "modification_withdrawn"


# What the revenue port calls each treatment (`canonical.amendment.ModificationOutcome.treatment`).
TREATMENT_NAMES = {
    Treatment.SEPARATE_CONTRACT: "separate_contract",
    Treatment.TERMINATION_AND_NEW_CONTRACT: "prospective",
    Treatment.CUMULATIVE_CATCH_UP: "cumulative_catch_up",
}


@dataclass(frozen=True)
class RevenueEvent:
    kind: EventKind
    idempotency_key: str  # as stored: see `stored_key`
    subject: str | None
    payload: dict[str, Any] = field(repr=False)

    @property
    def outcome(self) -> Any:
        return self.payload.get("outcome")


def stored_key(kind: EventKind, idempotency_key: str) -> str:
    """`<kind>/<key>`; a key too long for its column keeps its start and gets a digest of the whole."""
    return _fitted(f"{kind.value}/{idempotency_key}")


def document_subject(document_id: str) -> str:
    return _fitted(f"document/{document_id}")


def payment_subject(payment_id: str) -> str:
    return _fitted(f"payment/{payment_id}")


def usage_subject(obligation_id: str, month: str) -> str:
    return _fitted(f"usage/{obligation_id}/{month}")


def recognised_subject(period_key: str) -> str:
    return _fitted(f"recognised/{period_key}")


def locked_subject(period_key: str) -> str:
    return _fitted(f"locked/{period_key}")


def modification_subject(contract_id: str, version: int, withdrawn_before: int = 0) -> str:
    """`modification/<contract>/v<version>`; once a modification to that version was withdrawn, the next one to it
    is a new business event: `.../v<version>/2`, and so on."""
    suffix = f"/{withdrawn_before + 1}" if withdrawn_before else ""
    return _fitted(f"modification/{contract_id}/v{version}{suffix}")


def _fitted(text: str) -> str:
    if len(text) <= MAX_KEY_LENGTH:
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()
    return f"{text[: MAX_KEY_LENGTH - len(digest) - 1]}#{digest}"


# -- the events, with their inputs ------------------------------------------------------------------------------


def contract_registered(key: str, contract: Contract, billing_subscription_id: str) -> RevenueEvent:
    payload = {
        "contract": contract.model_dump(mode="json"),
        "legal_entity": contract.customer.legal_entity,
        "billing_subscription_id": billing_subscription_id,
        "registered_by": key,
    }
    return RevenueEvent(EventKind.CONTRACT_REGISTERED, stored_key(EventKind.CONTRACT_REGISTERED, key), None, payload)


def contract_withdrawn(key: str, revenue_contract_id: str) -> RevenueEvent:
    payload = {"revenue_contract_id": revenue_contract_id}
    return RevenueEvent(EventKind.CONTRACT_WITHDRAWN, stored_key(EventKind.CONTRACT_WITHDRAWN, key), None, payload)


def contract_modified(key: str, amended: Contract, amendment: Amendment, subject: str) -> RevenueEvent:
    payload = {
        "contract": amended.model_dump(mode="json"),
        "amendment": amendment.model_dump(mode="json"),
        "recorded_by": key,
    }
    return RevenueEvent(EventKind.CONTRACT_MODIFIED, stored_key(EventKind.CONTRACT_MODIFIED, key), subject, payload)


def modification_withdrawn(key: str, contract_id: str) -> RevenueEvent:
    """Undo the modification `key` recorded (the payload names it by that key and its contract)."""
    payload = {"contract_id": contract_id, "recorded_by": key}
    return RevenueEvent(
        EventKind.MODIFICATION_WITHDRAWN, stored_key(EventKind.MODIFICATION_WITHDRAWN, key), None, payload
    )


def usage_charge_recorded(key: str, charge: UsageCharge, source: str) -> RevenueEvent:
    """A month of usage charged; `source` says where its amount comes from (the invoice, or the meter)."""
    month = usage_month(charge.occurred_on)
    payload = {
        "obligation_id": charge.obligation_id,
        "month": month,
        "occurred_on": charge.occurred_on.isoformat(),
        "quantity": str(charge.quantity),
        "amount": charge.amount.model_dump(mode="json"),
        "source": source,
    }
    return RevenueEvent(
        EventKind.USAGE_CHARGE_RECORDED,
        stored_key(EventKind.USAGE_CHARGE_RECORDED, f"{key}/{charge.obligation_id}/{month}"),
        usage_subject(charge.obligation_id, month),
        payload,
    )


def billing_recorded(key: str, document: BillingDocument, period: AccountingPeriod) -> RevenueEvent:
    payload = {"document": document.model_dump(mode="json"), "period": period.model_dump(mode="json")}
    return RevenueEvent(
        EventKind.BILLING_RECORDED,
        stored_key(EventKind.BILLING_RECORDED, key),
        document_subject(document.document_id),
        payload,
    )


def payment_recorded(key: str, payment: BillingPayment) -> RevenueEvent:
    payload = {"payment": payment.model_dump(mode="json")}
    return RevenueEvent(
        EventKind.PAYMENT_RECORDED,
        stored_key(EventKind.PAYMENT_RECORDED, key),
        payment_subject(payment.payment_id),
        payload,
    )


def period_recognised(key: str, period: AccountingPeriod, period_key: str) -> RevenueEvent:
    payload = {"period": period.model_dump(mode="json"), "period_key": period_key}
    return RevenueEvent(
        EventKind.PERIOD_RECOGNISED,
        stored_key(EventKind.PERIOD_RECOGNISED, key),
        recognised_subject(period_key),
        payload,
    )


def period_locked(key: str, period: AccountingPeriod, period_key: str) -> RevenueEvent:
    payload = {"period": period.model_dump(mode="json"), "period_key": period_key}
    return RevenueEvent(
        EventKind.PERIOD_LOCKED, stored_key(EventKind.PERIOD_LOCKED, key), locked_subject(period_key), payload
    )


# -- folding ----------------------------------------------------------------------------------------------------


def applied(book: RevenueBook, event: RevenueEvent) -> RevenueEvent:
    """Fold `event` into `book`; the event with its outcome (and a close's or modification's detail) in its payload.

    Raises what the book raises when it refuses the event; the book is then unchanged.
    """
    payload = event.payload
    outcome: Any = None
    extra: dict[str, Any] = {}
    if event.kind is EventKind.CONTRACT_REGISTERED:
        contract = Contract.model_validate(payload["contract"])
        registered = book.register(contract, payload["billing_subscription_id"], payload["registered_by"])
        outcome = {"revenue_contract_id": registered.revenue_contract_id, "obligations": len(registered.obligations)}
    elif event.kind is EventKind.CONTRACT_WITHDRAWN:
        outcome = {"revenue_contract_id": book.withdraw(payload["revenue_contract_id"]).revenue_contract_id}
    elif event.kind is EventKind.USAGE_CHARGE_RECORDED:
        book.record_usage(_usage_charge(payload))
    elif event.kind is EventKind.BILLING_RECORDED:
        document = BillingDocument.model_validate(payload["document"])
        recorded = book.record_document(document, AccountingPeriod.model_validate(payload["period"]))
        outcome = {"reclass": None if recorded.reclass is None else recorded.reclass.model_dump(mode="json")}
    elif event.kind is EventKind.PAYMENT_RECORDED:
        book.record_payment(BillingPayment.model_validate(payload["payment"]))
    elif event.kind is EventKind.CONTRACT_MODIFIED:
        outcome, extra = _modified(book, payload)
    elif event.kind is EventKind.MODIFICATION_WITHDRAWN:
        withdrawn = book.withdraw_modification(payload["contract_id"], payload["recorded_by"])
        outcome = {"revenue_contract_id": withdrawn.previous.revenue_contract_id}
    elif event.kind is EventKind.PERIOD_RECOGNISED:
        close = book.recognise(AccountingPeriod.model_validate(payload["period"]))
        outcome = {"period_key": close.period.key, "journals": [j.model_dump(mode="json") for j in close.journals]}
        extra["detail"] = {
            "entries": [entry_json(entry) for entry in close.entries],
            "recognised": {oid: str(amount.amount) for oid, amount in close.recognised.items()},
        }
    else:
        outcome = {"period_key": book.lock(AccountingPeriod.model_validate(payload["period"])).key}
    return RevenueEvent(event.kind, event.idempotency_key, event.subject, {**payload, **extra, "outcome": outcome})


def entry_json(entry: JournalEntry) -> dict[str, Any]:
    """One engine journal entry, as the drill-down keeps it in the event."""
    return {
        "contract_id": entry.contract_id,
        "booked_on": entry.booked_on.isoformat(),
        "kind": entry.kind.value,
        "memo": entry.memo,
        "currency": entry.currency,
        "postings": [{"account": p.account, "amount": str(p.amount.amount)} for p in entry.postings],
    }


def _modified(book: RevenueBook, payload: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Apply a `contract_modified` event; its outcome, and the treatment and catch-ups the book chose."""
    amended = Contract.model_validate(payload["contract"])
    amendment = Amendment.model_validate(payload["amendment"])
    recorded = book.modify(amended, revenue_facts(amendment.facts), amendment.effective_on, payload["recorded_by"])
    outcome = {
        "revenue_contract_id": recorded.previous.revenue_contract_id,
        "treatment": TREATMENT_NAMES[recorded.treatment],
        "catch_up": None if recorded.catch_up is None else recorded.catch_up.model_dump(mode="json"),
        "contract_id": recorded.contract_id,
        "version": recorded.version,
        "amendment_id": amendment.amendment_id,
    }
    return outcome, {"treatment": recorded.treatment.value, "catch_ups": _catch_ups_json(recorded)}


def revenue_facts(facts: AmendmentFacts) -> ModificationFacts:
    """The CRM's modification facts in the revenue engine's terms (the same three answers)."""
    return ModificationFacts(
        added_goods_distinct=facts.added_goods_distinct,
        priced_at_ssp=facts.priced_at_ssp,
        remaining_goods_distinct=facts.remaining_goods_distinct,
    )


def _catch_ups_json(recorded: RecordedModification) -> list[dict[str, Any]]:
    return [
        {
            "obligation_id": catch_up.obligation_id,
            "booked_on": catch_up.booked_on.isoformat(),
            "amount": str(catch_up.amount.amount),
            "reason": catch_up.reason,
        }
        for catch_up in recorded.catch_ups
    ]


def _usage_charge(payload: dict[str, Any]) -> UsageCharge:
    return UsageCharge(
        obligation_id=payload["obligation_id"],
        occurred_on=date.fromisoformat(payload["occurred_on"]),
        quantity=Decimal(payload["quantity"]),
        amount=Money.model_validate(payload["amount"]),
    )
