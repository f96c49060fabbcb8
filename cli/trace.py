"""`q2c trace <contract|invoice>`: one contract's chain, from the quote to recognised revenue, as the sagas recorded
it in the operational store (cross-references and audit trail) and the revenue engine holds it.

quote (the CRM opportunity and its lines, as read) → contract versions (which saga made each, its IDs in the
CRM, billing and the revenue engine, the mapping rules' version, who approved) → customer and subscription →
invoices and credit notes → their ERP postings → payments → period-close journals → the engine's billed,
deferred and recognised revenue. Given an invoice or credit note, it traces that document's contract and shows
that document only.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, cast

from adapters.revenue_engine import BuiltInRevenueEngine
from adapters.store.records import AuditEventKind, AuditRecord, CrossReference, EntityKind
from adapters.store.store import OperationalStore
from canonical.references import System
from cli import output
from cli.context import CliError
from cli.store_access import database_url, opened_store

INVOICE_SAGA, PAYMENT_SAGA, CLOSE_SAGA = "invoice-to-revenue/", "payment-settled/", "period-close/"
PAGE = 1000
JsonObject = dict[str, Any]


@dataclass
class AuditIndex:
    """What the audit trail says about documents, payments and closes, found in one pass over the chain."""

    documents: dict[str, JsonObject] = field(default_factory=dict)  # document ID → its snapshot as read
    erp_postings: dict[str, JsonObject] = field(default_factory=dict)  # document ID → the ERP's acknowledgement
    payments: dict[str, JsonObject] = field(default_factory=dict)  # invoice ID → the payment as read
    payment_postings: dict[str, JsonObject] = field(default_factory=dict)  # invoice ID → ERP acknowledgement
    close_journals: list[JsonObject] = field(default_factory=list)
    by_saga: dict[str, list[AuditRecord]] = field(default_factory=lambda: defaultdict(list))

    def add(self, record: AuditRecord) -> None:
        self.by_saga[record.workflow_id].append(record)
        saga, payload, ack = record.workflow_id, _json(record.source_payload), _json(record.posting_ack)
        erp_posting = record.kind is AuditEventKind.POSTED and record.target_system is System.ERP and ack
        if record.kind is AuditEventKind.SOURCE_READ and payload and saga.startswith(INVOICE_SAGA):
            self.documents[str(payload["document_id"])] = payload
        elif record.kind is AuditEventKind.SOURCE_READ and payload and saga.startswith(PAYMENT_SAGA):
            self.payments[str(payload["invoice_id"])] = payload
        elif erp_posting and saga.startswith(INVOICE_SAGA) and ack and ack.get("record_type") != "journalEntry":
            self.erp_postings[saga.removeprefix(INVOICE_SAGA)] = ack
        elif erp_posting and saga.startswith(PAYMENT_SAGA) and ack:
            self.payment_postings[saga.removeprefix(PAYMENT_SAGA)] = ack
        elif erp_posting and saga.startswith(CLOSE_SAGA) and ack:
            self.close_journals.append(ack)


async def audit_index(store: OperationalStore) -> AuditIndex:
    index, after = AuditIndex(), 0
    while page := await store.audit_records(after_id=after, limit=PAGE):
        for record in page:
            index.add(record)
        after = page[-1].id
    return index


async def trace(args: argparse.Namespace) -> int:
    async with opened_store(args.database) as store:
        lines = await trace_lines(store, database_url(args.database), args.id)
    for line in lines:
        output.say(line)
    return 0


async def trace_lines(store: OperationalStore, database: str, entity_id: str) -> list[str]:
    """The chain of the contract `entity_id` is (or the contract of the invoice or credit note it is)."""
    index = await audit_index(store)
    document = index.documents.get(entity_id)
    contract_id = str(document["contract_id"]) if document else entity_id
    versions = await _versions(store, contract_id)
    if not versions:
        raise CliError(
            f"no contract, invoice or credit note {entity_id!r} in the operational store at {database} "
            "(contract IDs look like C-..., invoices in_..., credit notes cn_...)"
        )
    only = entity_id if document else None
    lines = [f"Trace of contract {contract_id}" + (f", {entity_id} only" if only else ""), ""]
    lines += await _origin(store, index, versions)
    lines += _contract_versions(index, versions)
    lines += await _customer_and_subscription(store, index, versions, contract_id)
    documents = _documents_of(index, contract_id, only)
    lines += _documents(index, documents)
    lines += _closes(index)
    lines += await _revenue(database, contract_id)
    sagas = {_saga_of(refs) for refs in versions.values()}
    sagas |= {f"{saga}{d['document_id']}" for d in documents for saga in (INVOICE_SAGA, PAYMENT_SAGA)}
    records = sum(len(index.by_saga.get(saga, ())) for saga in sagas)
    lines += ["", f"{records} audit record(s) from this contract's sagas; `q2c audit verify` checks the whole chain."]
    return lines


async def _versions(store: OperationalStore, contract_id: str) -> dict[int, dict[System, CrossReference]]:
    versions: dict[int, dict[System, CrossReference]] = {}
    version = 1
    while refs := await store.references_of(EntityKind.CONTRACT, contract_id, version=version):
        versions[version] = refs
        version += 1
    return versions


def _saga_of(refs: dict[System, CrossReference]) -> str:
    return min(refs.values(), key=lambda ref: ref.recorded_at).saga_id


async def _origin(
    store: OperationalStore, index: AuditIndex, versions: dict[int, dict[System, CrossReference]]
) -> list[str]:
    saga = _saga_of(versions[1])
    deal = _deal(index, saga)
    if not deal:
        return [f"Quote         (the closed-won saga {saga} recorded no CRM read)"]
    opportunity, account, quote = deal["opportunity"], deal["account"], deal.get("lines", [])
    products = ", ".join(str(line.get("product_code")) for line in quote)
    return [
        f"Quote         opportunity {opportunity['opportunity_id']} {opportunity.get('name') or ''}".rstrip(),
        f"              account {account['account_id']} {account.get('name') or ''}; {len(quote)} line(s): {products}",
    ]


def _contract_versions(index: AuditIndex, versions: dict[int, dict[System, CrossReference]]) -> list[str]:
    lines = []
    for version, refs in versions.items():
        saga = _saga_of(refs)
        ids = _ids(refs)
        lines.append(f"Contract v{version:<4} {ids}   (saga {saga})")
        for record in index.by_saga[saga]:
            if record.kind is AuditEventKind.TRANSFORMED:
                lines.append(f"              mapped under mapping rules {record.mapping_version}")
            elif record.kind is AuditEventKind.APPROVAL:
                lines.append(f"              {record.note} (by {record.actor}, {output.when(record.recorded_at)})")
    return lines


async def _customer_and_subscription(
    store: OperationalStore,
    index: AuditIndex,
    versions: dict[int, dict[System, CrossReference]],
    contract_id: str,
) -> list[str]:
    lines = []
    deal = _deal(index, _saga_of(versions[1]))
    if deal:
        account_id = str(deal["account"]["account_id"])
        customer = await store.references_of(EntityKind.CUSTOMER, account_id)
        ids = _ids(customer)
        lines.append(f"Customer      {account_id}  {ids}")
    for kind, label in ((EntityKind.SUBSCRIPTION, "Subscription"), (EntityKind.REVENUE_CONTRACT, "Revenue")):
        refs = await store.references_of(kind, contract_id)
        ids = _ids(refs)
        lines.append(f"{label:<13} {ids or '-'}")
    return lines


def _documents_of(index: AuditIndex, contract_id: str, only: str | None) -> list[JsonObject]:
    return sorted(
        (d for d in index.documents.values() if d["contract_id"] == contract_id and only in (None, d["document_id"])),
        key=lambda d: (str(d["issued_on"]), str(d["document_id"])),
    )


def _documents(index: AuditIndex, documents: list[JsonObject]) -> list[str]:
    lines = ["", f"Invoices and credit notes ({len(documents)})"]
    for document in documents:
        document_id = str(document["document_id"])
        total = document["total"]
        lines.append(
            f"  {document['issued_on']}  {document_id}  {document['kind']:<11} {_amount(total):>14}"
            f"  → {_posting(index.erp_postings.get(document_id))}"
        )
        payment = index.payments.get(document_id)
        if payment is not None:
            lines.append(
                f"      paid {payment['paid_on']}  {_amount(payment['amount'])}  ({payment['payment_id']})"
                f"  → {_posting(index.payment_postings.get(document_id))}"
            )
    return lines


def _closes(index: AuditIndex) -> list[str]:
    if not index.close_journals:
        return ["", "Period closes: none recorded yet"]
    lines = ["", "Period closes (summarised journals, every contract)"]
    for ack in sorted(index.close_journals, key=lambda a: str(a["external_id"])):
        lines.append(f"  {ack['external_id']}  ERP journal {ack['internal_id']}  {ack['total']}")
    return lines


async def _revenue(database: str, contract_id: str) -> list[str]:
    async with BuiltInRevenueEngine(database) as engine:
        try:
            balances = await engine.balances(contract_id)
        except KeyError:
            return ["", f"Revenue engine: no contract {contract_id}"]
    rows: list[output.Row] = [
        ("billed", str(balances.billed)),
        ("recognised", str(balances.recognised)),
        ("deferred (contract liability)", str(balances.contract_liability)),
        ("contract asset", str(balances.contract_asset)),
        ("unbilled receivable", str(balances.unbilled_receivable)),
        ("receivable", str(balances.receivable)),
        ("cash", str(balances.cash)),
    ]
    return ["", "Revenue engine (to date)", *output.fields(rows)]


def _deal(index: AuditIndex, closed_won_saga: str) -> JsonObject | None:
    """The deal as the closed-won saga read it from the CRM."""
    reads = (r for r in index.by_saga[closed_won_saga] if r.kind is AuditEventKind.SOURCE_READ)
    return next((_json(r.source_payload) for r in reads), None)


def _json(value: object) -> JsonObject | None:
    return cast(JsonObject, value) if isinstance(value, dict) else None


def _ids(refs: dict[System, CrossReference]) -> str:
    """`crm ...  erp ...  billing ...  revenue ...`, in the order a deal travels."""
    return "  ".join(f"{system.value} {refs[system].external_id}" for system in System if system in refs)


def _amount(money: JsonObject) -> str:
    return f"{money['amount']} {money['currency']}"


def _posting(ack: JsonObject | None) -> str:
    if ack is None:
        return "not posted to the ERP yet"
    return f"ERP {ack['record_type']} {ack['internal_id']} (period {ack['posting_period_id']})"
