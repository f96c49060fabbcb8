"""The double-entry books behind the records: what each transaction posts, into which period, and what it leaves open.

- invoice: Dr accounts receivable (the invoice's `account`, default the first AcctRec account) for the total,
  Cr each line's income account (the item's `incomeAccount`, or the line's `account` override, e.g. deferred
  revenue);
- credit memo: the reverse; with `createdFrom` an invoice, it is applied to that invoice;
- customer payment: Dr the deposit `account` (default the first Bank account), Cr receivables; its `apply`
  lines reduce the invoices' `amountRemaining`;
- journal entry: its lines as given; debits must equal credits.

Every posting lands in its `postingPeriod`, or the period containing its `tranDate`; a closed period refuses
the posting (and any change to a transaction already posted there) with a 400. NetSuite documents no error
code for that: USER_ERROR on `postingPeriod` with a sentence saying the period is closed is this emulator's
*unverified* choice. The receivables sub-ledger is the AR lines carrying the customer as `entity`.

An accounting period's `closed` checkbox is read-only over REST here: NetSuite closes a period through the
Period Close Checklist in its UI, and documents no web-services way to (see `sandbox.netsuite.period_close`,
the emulator-only admin surface that does it instead).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sandbox.netsuite.books import Books
from sandbox.netsuite.errors import NetSuiteError, invalid_field_value
from sandbox.netsuite.recordtypes import Document, RecordType

CENT = Decimal("0.01")
ZERO = Decimal(0)
ACCOUNT_TYPES = frozenset(
    {
        "Bank", "AcctRec", "UnbilledRec", "OthCurrAsset", "FixedAsset", "OthAsset", "DeferExpense", "AcctPay",
        "CredCard", "OthCurrLiab", "LongTermLiab", "DeferRevenue", "Equity", "Income", "OthIncome", "COGS",
        "Expense", "OthExpense", "NonPosting", "Stat",
    }
)  # fmt: skip


def user_error(detail: str, path: str | None) -> NetSuiteError:
    return NetSuiteError(400, "USER_ERROR", f"Error while accessing a resource. {detail}", path)


def closed_period(period: Document) -> NetSuiteError:
    # Unverified code and wording (see the module docstring); the adapter keys on "closed" + "period" in the detail.
    return user_error(
        f"The accounting period {period['periodName']} is closed. You cannot post to a closed period.",
        "postingPeriod",
    )


def gl_lines(doc: Document) -> list[dict[str, Any]]:
    """A transaction's GL impact with amounts as Decimal (the store keeps them as strings)."""
    return [
        {**line, **{k: Decimal(str(line[k])) if line.get(k) is not None else None for k in ("debit", "credit")}}
        for line in doc.get("_gl", [])
    ]


def _line(
    account: str, amount: Decimal, side: str, entity: str | None = None, memo: str | None = None
) -> dict[str, Any]:
    """One GL line; a negative amount lands on the other side."""
    if amount < 0:
        amount, side = -amount, "credit" if side == "debit" else "debit"
    return {
        "account": account,
        "debit": amount if side == "debit" else None,
        "credit": amount if side == "credit" else None,
        "entity": entity,
        "memo": memo,
    }


# --- references ---------------------------------------------------------------------------------------------


async def _ref(books: Books, type_name: str, ref: Any, field: str, path: str) -> Document:
    record = await books.get_named(type_name, ref["id"]) if isinstance(ref, dict) else None
    if record is None:
        raise invalid_field_value(ref["id"] if isinstance(ref, dict) else ref, field, path)
    return record


async def _account_of_type(books: Books, account_type: str, purpose: str) -> Document:
    for account in await books.all_named("account"):
        if account.get("acctType") == account_type and not account.get("isInactive"):
            return account
    raise user_error(f"There is no {account_type} account to use as the {purpose} account.", "account")


async def _active_customer(books: Books, ref: Any, field: str) -> Document:
    customer = await _ref(books, "customer", ref, field, field)
    if customer.get("isInactive"):
        raise invalid_field_value(ref["id"], field, field)
    return customer


async def _period(books: Books, doc: Document, previous: Document | None) -> Document:
    if previous is not None and previous.get("postingPeriod"):
        earlier = await books.get_named("accountingPeriod", previous["postingPeriod"]["id"])
        if earlier is not None and earlier.get("closed"):
            raise closed_period(earlier)
    ref = doc.get("postingPeriod")
    if ref is not None:
        period = await _ref(books, "accountingPeriod", ref, "postingPeriod", "postingPeriod")
    else:
        on = doc["tranDate"]
        found = [
            p for p in await books.all_named("accountingPeriod") if p["startDate"] <= on <= p["endDate"]
        ]  # ISO dates compare as text
        if not found:
            raise user_error(f"No accounting period covers the transaction date {on}.", "tranDate")
        period = found[0]
    if period.get("closed"):
        raise closed_period(period)
    doc["_periodDerived"] = ref is None
    doc["postingPeriod"] = {"id": period["id"]}
    return period


def _currency_of(doc: Document, customer: Document) -> None:
    own, theirs = doc.get("currency"), customer.get("currency")
    if own is not None and theirs is not None and own["id"] != theirs["id"]:
        raise invalid_field_value(own["id"], "currency", "currency")
    if theirs is not None:
        doc["currency"] = theirs


# --- per-type preparation: validate references, derive fields, compute the GL impact ------------------------


async def _customer(books: Books, doc: Document, previous: Document | None) -> None:
    subsidiary = await _ref(books, "subsidiary", doc["subsidiary"], "subsidiary", "subsidiary")
    if doc.get("currency") is not None:
        await _ref(books, "currency", doc["currency"], "currency", "currency")
    elif subsidiary.get("currency") is not None:
        doc["currency"] = subsidiary["currency"]
    if doc.get("terms") is not None:
        await _ref(books, "term", doc["terms"], "terms", "terms")
    doc.setdefault("entityId", doc["companyName"])
    doc.setdefault("isInactive", False)


async def _item(books: Books, doc: Document, previous: Document | None) -> None:
    await _ref(books, "account", doc["incomeAccount"], "incomeAccount", "incomeAccount")
    doc.setdefault("itemType", "Service")


async def _subsidiary(books: Books, doc: Document, previous: Document | None) -> None:
    if doc.get("currency") is not None:
        await _ref(books, "currency", doc["currency"], "currency", "currency")


async def _account(books: Books, doc: Document, previous: Document | None) -> None:
    if doc["acctType"] not in ACCOUNT_TYPES:
        raise invalid_field_value(doc["acctType"], "acctType", "acctType")


async def _accounting_period(books: Books, doc: Document, previous: Document | None) -> None:
    if date.fromisoformat(doc["endDate"]) < date.fromisoformat(doc["startDate"]):
        raise user_error("The end date is before the start date.", "endDate")
    was_closed = bool(previous is not None and previous.get("closed"))
    if bool(doc.get("closed", was_closed)) != was_closed:
        # Unverified code and wording: whether NetSuite refuses or ignores the field is not documented.
        raise user_error(
            "An accounting period is closed or reopened with the Period Close Checklist, not through web services.",
            "closed",
        )
    doc["closed"] = was_closed


async def _item_lines(books: Books, doc: Document) -> list[tuple[str, Decimal]]:
    """(income account, amount) per line, with quantity, rate and amount filled in."""
    lines = []
    for index, line in enumerate(doc["item"]):
        path = f"item.items[{index}]"
        item = await _ref(books, "item", line["item"], "item", f"{path}.item")
        line.setdefault("quantity", Decimal(1))
        if line.get("amount") is None:
            if line.get("rate") is None:
                raise user_error("Please enter value(s) for: amount.", f"{path}.amount")
            line["amount"] = (line["quantity"] * line["rate"]).quantize(CENT, rounding=ROUND_HALF_UP)
        account = line.get("account") or item["incomeAccount"]
        await _ref(books, "account", account, "account", f"{path}.account")
        lines.append((account["id"], line["amount"]))
    return lines


async def _sales(
    books: Books, doc: Document, previous: Document | None
) -> tuple[str, list[tuple[str, Decimal]], Decimal]:
    customer = await _active_customer(books, doc["entity"], "entity")
    _currency_of(doc, customer)
    doc["subsidiary"] = customer["subsidiary"]
    ar = doc.get("account")
    ar_account = (
        await _ref(books, "account", ar, "account", "account")
        if ar
        else await _account_of_type(books, "AcctRec", "receivables")
    )
    doc["account"] = {"id": ar_account["id"]}
    lines = await _item_lines(books, doc)
    total = sum((amount for _, amount in lines), ZERO)
    if total < 0:
        raise user_error("The transaction total must not be negative.", "item")
    await _period(books, doc, previous)
    doc["total"] = total
    return ar_account["id"], lines, total


async def _invoice(books: Books, doc: Document, previous: Document | None) -> None:
    ar, lines, total = await _sales(books, doc, previous)
    entity = doc["entity"]["id"]
    if previous is not None:
        settled = previous["total"] - await amount_remaining(books, previous)
        if total < settled:
            raise user_error(f"The total {total} is below the {settled} already paid or credited.", "item")
    doc["_gl"] = [_line(ar, total, "debit", entity, doc.get("memo"))] + [
        _line(account, amount, "credit", None, doc.get("memo")) for account, amount in lines
    ]


async def _credit_memo(books: Books, doc: Document, previous: Document | None) -> None:
    ar, lines, total = await _sales(books, doc, previous)
    entity = doc["entity"]["id"]
    doc["_applied"] = []
    if doc.get("createdFrom") is not None:
        invoice = await books.get_named("invoice", doc["createdFrom"]["id"])
        if invoice is None or invoice["entity"]["id"] != entity:
            raise invalid_field_value(doc["createdFrom"]["id"], "createdFrom", "createdFrom")
        open_amount = await amount_remaining(books, invoice, exclude=doc["id"])
        applied = min(total, open_amount)
        if applied > 0:
            doc["_applied"] = [{"doc": invoice["id"], "amount": applied}]
    doc["_gl"] = [_line(account, amount, "debit", None, doc.get("memo")) for account, amount in lines] + [
        _line(ar, total, "credit", entity, doc.get("memo"))
    ]


async def _customer_payment(books: Books, doc: Document, previous: Document | None) -> None:
    customer = await _active_customer(books, doc["customer"], "customer")
    _currency_of(doc, customer)
    doc["subsidiary"] = customer["subsidiary"]
    payment: Decimal = doc["payment"]
    if payment <= 0:
        raise invalid_field_value(payment, "payment", "payment")
    deposit = doc.get("account")
    bank = (
        await _ref(books, "account", deposit, "account", "account")
        if deposit
        else await _account_of_type(books, "Bank", "deposit")
    )
    doc["account"] = {"id": bank["id"]}
    left = payment
    for index, line in enumerate(doc.get("apply") or []):
        path = f"apply.items[{index}]"
        if line.get("apply") is False:
            continue
        invoice = await books.get_named("invoice", line["doc"]["id"])
        if invoice is None or invoice["entity"]["id"] != customer["id"]:
            raise invalid_field_value(line["doc"]["id"], "doc", f"{path}.doc")
        open_amount = await amount_remaining(books, invoice, exclude=doc["id"])
        amount = line.get("amount")
        if amount is None:
            amount = line["amount"] = min(open_amount, left)
        if amount <= 0 or amount > open_amount:
            raise user_error(
                f"The amount applied, {amount}, must be above 0 and at most {open_amount}.", f"{path}.amount"
            )
        left -= amount
        if left < 0:
            raise user_error(f"The amounts applied exceed the payment of {payment}.", "apply")
        line["apply"] = True
    await _period(books, doc, previous)
    doc["total"] = payment
    ar = await _account_of_type(books, "AcctRec", "receivables")
    doc["_gl"] = [
        _line(bank["id"], payment, "debit", None, doc.get("memo")),
        _line(ar["id"], payment, "credit", customer["id"], doc.get("memo")),
    ]


async def _journal_entry(books: Books, doc: Document, previous: Document | None) -> None:
    subsidiary = await _ref(books, "subsidiary", doc["subsidiary"], "subsidiary", "subsidiary")
    if doc.get("currency") is not None:
        await _ref(books, "currency", doc["currency"], "currency", "currency")
    elif subsidiary.get("currency") is not None:
        doc["currency"] = subsidiary["currency"]  # NetSuite's default: the subsidiary's base currency
    debits = credits = ZERO
    gl = []
    for index, line in enumerate(doc["line"]):
        path = f"line.items[{index}]"
        await _ref(books, "account", line["account"], "account", f"{path}.account")
        if line.get("entity") is not None:
            await _ref(books, "customer", line["entity"], "entity", f"{path}.entity")
        debit, credit = line.get("debit"), line.get("credit")
        if (debit is None) == (credit is None) or (debit if debit is not None else credit) <= 0:
            raise user_error("Each line needs either a debit or a credit, above 0.", f"{path}.debit")
        side, amount = ("debit", debit) if debit is not None else ("credit", credit)
        debits, credits = (debits + amount, credits) if side == "debit" else (debits, credits + amount)
        entity = line["entity"]["id"] if line.get("entity") else None
        gl.append(_line(line["account"]["id"], amount, side, entity, line.get("memo")))
    if debits != credits:
        # Unverified wording and code.
        raise user_error(f"The journal entry is out of balance: debits {debits}, credits {credits}.", "line")
    await _period(books, doc, previous)
    doc["total"] = debits
    doc["_gl"] = gl


Preparer = Callable[[Books, Document, Document | None], Awaitable[None]]
_PREPARERS: dict[str, Preparer] = {
    "customer": _customer,
    "item": _item,
    "subsidiary": _subsidiary,
    "account": _account,
    "accountingPeriod": _accounting_period,
    "invoice": _invoice,
    "creditMemo": _credit_memo,
    "customerPayment": _customer_payment,
    "journalEntry": _journal_entry,
}


async def prepare(books: Books, rt: RecordType, doc: Document, previous: Document | None) -> Document:
    """Validate a record about to be saved against the books, and fill in what NetSuite derives."""
    preparer = _PREPARERS.get(rt.name)
    if preparer is not None:
        await preparer(books, doc, previous)
    return doc


# --- what the books leave open ------------------------------------------------------------------------------


async def amount_remaining(books: Books, invoice: Document, exclude: str | None = None) -> Decimal:
    settled = ZERO
    for tx in await books.transactions():
        if tx["id"] in (exclude, invoice["id"]):
            continue
        if tx["_type"] == "customerPayment":
            settled += sum(
                (
                    line["amount"]
                    for line in tx.get("apply") or []
                    if line.get("apply") and line["doc"]["id"] == invoice["id"]
                ),
                ZERO,
            )
        elif tx["_type"] == "creditMemo":
            settled += sum(
                (Decimal(str(a["amount"])) for a in tx.get("_applied", []) if a["doc"] == invoice["id"]), ZERO
            )
    total: Decimal = invoice["total"]
    return total - settled


async def customer_balance(books: Books, customer_id: str) -> Decimal:
    receivables = {a["id"] for a in await books.all_named("account") if a.get("acctType") == "AcctRec"}
    balance = ZERO
    for tx in await books.transactions():
        for line in gl_lines(tx):
            if line["entity"] == customer_id and line["account"] in receivables:
                balance += (line["debit"] or ZERO) - (line["credit"] or ZERO)
    return balance


async def computed(books: Books, rt: RecordType, doc: Document) -> Document:
    """Read-only fields NetSuite computes when a record is read."""
    if rt.name == "customer":
        return {"balance": await customer_balance(books, doc["id"])}
    if rt.name == "invoice":
        remaining = await amount_remaining(books, doc)
        return {"amountRemaining": remaining, "status": "Open" if remaining > 0 else "Paid In Full"}
    if rt.name == "creditMemo":
        applied = sum((Decimal(str(a["amount"])) for a in doc.get("_applied", [])), ZERO)
        return {
            "applied": applied,
            "unapplied": doc["total"] - applied,
            "status": "Open" if doc["total"] > applied else "Fully Applied",
        }
    if rt.name == "customerPayment":
        applied = sum((line["amount"] for line in doc.get("apply") or [] if line.get("apply")), ZERO)
        return {"applied": applied, "unapplied": doc["total"] - applied, "status": "Deposited"}
    if rt.name == "journalEntry":
        return {"status": "Approved for Posting"}
    return {}
