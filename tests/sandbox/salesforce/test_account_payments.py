"""A settled payment written onto the CRM account (`SalesforceCrm.record_account_payment`), over real HTTP
against the emulated org, and read back with SOQL as a Salesforce report would."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from adapters.errors import NotFoundError, PermanentAdapterError
from adapters.salesforce import AccountPaymentStatus, AccountPaymentUpdate
from canonical.money import Money
from canonical.problems import ExceptionCategory
from tests.sandbox.salesforce.conftest import API, RunningOrg

NORTHWIND_ACCOUNT = "001NW0000000001"
PAYMENT_FIELDS = (
    "Q2C_Last_Payment_Date__c",
    "Q2C_Last_Payment_Amount__c",
    "Q2C_Open_Receivable__c",
    "Q2C_Payment_Status__c",
    "Q2C_Last_Invoice_Paid__c",
)


def _update(
    invoice_id: str = "in_1NWjan",
    paid_on: date = date(2027, 1, 30),
    amount: str = "24000.00",
    open_receivable: str = "9000.00",
    currency: str = "USD",
) -> AccountPaymentUpdate:
    return AccountPaymentUpdate(
        invoice_id=invoice_id,
        paid_on=paid_on,
        amount=Money.of(amount, currency),
        open_receivable=Money.of(open_receivable, currency),
    )


async def _payment_fields(org: RunningOrg, account_id: str = NORTHWIND_ACCOUNT) -> dict[str, Any]:
    soql = f"SELECT Id, {', '.join(PAYMENT_FIELDS)}, LastModifiedDate FROM Account WHERE Id = '{account_id}'"
    async with await org.rest() as rest:
        response = await rest.get(f"{API}/query", params={"q": soql})
    assert response.status_code == 200, response.text
    records = response.json(parse_float=Decimal)["records"]
    assert len(records) == 1
    return {k: v for k, v in records[0].items() if k != "attributes"}


async def test_a_settled_payment_is_written_to_the_account_and_read_back_with_soql(seeded: RunningOrg) -> None:
    key = "payment-settled/in_1NWjan/crm"
    async with seeded.adapter() as crm:
        await crm.record_account_payment(NORTHWIND_ACCOUNT, _update(), key)
        first = await _payment_fields(seeded)
        await crm.record_account_payment(NORTHWIND_ACCOUNT, _update(), key)  # a retry: the same PATCH
        second = await _payment_fields(seeded)

    assert {name: first[name] for name in PAYMENT_FIELDS} == {
        "Q2C_Last_Payment_Date__c": "2027-01-30",
        "Q2C_Last_Payment_Amount__c": Decimal("24000.00"),
        "Q2C_Open_Receivable__c": Decimal("9000.00"),
        "Q2C_Payment_Status__c": "open",
        "Q2C_Last_Invoice_Paid__c": "in_1NWjan",
    }
    assert first["Id"].startswith(NORTHWIND_ACCOUNT)
    assert {name: second[name] for name in PAYMENT_FIELDS} == {name: first[name] for name in PAYMENT_FIELDS}


async def test_nothing_left_to_pay_makes_the_account_current(seeded: RunningOrg) -> None:
    async with seeded.adapter() as crm:
        await crm.record_account_payment(NORTHWIND_ACCOUNT, _update(), "k1")
        await crm.record_account_payment(
            NORTHWIND_ACCOUNT + "YAA",  # the 18-character form names the same account
            _update("in_1NWfeb", date(2027, 2, 27), amount="9000.00", open_receivable="0.00"),
            "k2",
        )
        fields = await _payment_fields(seeded)

    assert fields["Q2C_Payment_Status__c"] == "current"
    assert fields["Q2C_Open_Receivable__c"] == Decimal("0")
    assert (fields["Q2C_Last_Invoice_Paid__c"], fields["Q2C_Last_Payment_Date__c"]) == ("in_1NWfeb", "2027-02-27")


async def test_an_earlier_payment_recorded_late_does_not_replace_a_later_one(seeded: RunningOrg) -> None:
    async with seeded.adapter() as crm:
        await crm.record_account_payment(
            NORTHWIND_ACCOUNT, _update("in_1NWfeb", date(2027, 2, 27), "9000.00", "0.00"), "k-feb"
        )
        later = await _payment_fields(seeded)
        await crm.record_account_payment(NORTHWIND_ACCOUNT, _update(), "k-jan")  # January's saga, retried late
        after = await _payment_fields(seeded)
        await crm.record_account_payment(  # the same day as the one recorded: written
            NORTHWIND_ACCOUNT, _update("in_1NWextra", date(2027, 2, 27), "500.00", "0.00"), "k-extra"
        )
        same_day = await _payment_fields(seeded)

    assert after == later
    assert later["Q2C_Last_Invoice_Paid__c"] == "in_1NWfeb"
    assert (same_day["Q2C_Last_Invoice_Paid__c"], same_day["Q2C_Last_Payment_Amount__c"]) == (
        "in_1NWextra",
        Decimal("500.00"),
    )


async def test_a_payment_in_another_currency_than_the_accounts_is_refused(seeded: RunningOrg) -> None:
    before = await _payment_fields(seeded)
    async with seeded.adapter() as crm:
        with pytest.raises(PermanentAdapterError) as refused:
            await crm.record_account_payment(NORTHWIND_ACCOUNT, _update(currency="EUR"), "k-eur")

    assert refused.value.category is ExceptionCategory.MASTER_DATA_MISMATCH
    assert "USD" in refused.value.message and "EUR" in refused.value.message
    assert await _payment_fields(seeded) == before  # nothing written


async def test_an_unknown_or_malformed_account_is_not_found(seeded: RunningOrg) -> None:
    async with seeded.adapter() as crm:
        for account_id in ("001NW0000000099", "006NW0000000001", "001'; DELETE", ""):
            with pytest.raises(NotFoundError):
                await crm.record_account_payment(account_id, _update(), "k")


def test_an_update_is_one_currency_and_a_real_payment() -> None:
    assert _update(open_receivable="0.00").status is AccountPaymentStatus.CURRENT
    assert _update(open_receivable="-50.00").status is AccountPaymentStatus.CURRENT  # in credit: nothing owed
    assert _update(open_receivable="0.01").status is AccountPaymentStatus.OPEN
    with pytest.raises(ValidationError, match="EUR"):
        AccountPaymentUpdate(
            invoice_id="in_1",
            paid_on=date(2027, 1, 30),
            amount=Money.of("10.00", "USD"),
            open_receivable=Money.of("0.00", "EUR"),
        )
    for amount in ("0.00", "-10.00"):
        with pytest.raises(ValidationError, match="more than zero"):
            _update(amount=amount)
    with pytest.raises(ValidationError):
        _update(invoice_id="")
    with pytest.raises(ValidationError):
        AccountPaymentUpdate.model_validate(
            {"invoice_id": "in_1", "paid_on": "2027-01-30", "amount": {"amount": 1.5, "currency": "USD"}}
            | {"open_receivable": {"amount": "0", "currency": "USD"}}
        )
