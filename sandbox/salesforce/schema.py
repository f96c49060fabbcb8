"""The emulated org's metadata: the objects q2c uses, each with its fields as `describe` would list them.

This is the only place the emulator names fields. It stores whatever a client sends, as long as the field exists
here (in the org's API-name casing), has the right type and fits. Standard fields, plus the custom fields a q2c
org admin deploys (`__c`: the `Q2C_*` fields receive what q2c writes back, a saga's outcome on Opportunity and
the last settled payment on Account; the amendment fields on Opportunity and OpportunityLineItem), plus
`Q2C_External_Id__c` on every object for idempotent upserts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from enum import StrEnum
from typing import Any


class FieldType(StrEnum):
    ID = "id"
    STRING = "string"
    TEXTAREA = "textarea"
    EMAIL = "email"
    PICKLIST = "picklist"
    REFERENCE = "reference"
    BOOLEAN = "boolean"
    DATE = "date"
    DATETIME = "datetime"
    DOUBLE = "double"
    CURRENCY = "currency"
    PERCENT = "percent"

    @property
    def is_number(self) -> bool:
        return self in {FieldType.DOUBLE, FieldType.CURRENCY, FieldType.PERCENT}

    @property
    def is_text(self) -> bool:
        return self in {FieldType.STRING, FieldType.TEXTAREA, FieldType.EMAIL, FieldType.PICKLIST}


@dataclass(frozen=True)
class Field:
    name: str
    type: FieldType
    length: int = 0
    precision: int = 18
    scale: int = 0
    required: bool = False
    createable: bool = True
    updateable: bool = True
    reference_to: str | None = None
    relationship_name: str | None = None
    external_id: bool = False
    unique: bool = False
    default: Any = None
    formula: Callable[[Mapping[str, Any]], Any] | None = None


@dataclass(frozen=True)
class SObject:
    name: str
    key_prefix: str
    fields: tuple[Field, ...]
    _by_lower: dict[str, Field] = dataclass_field(init=False, repr=False, compare=False)
    _relationships: dict[str, Field] = dataclass_field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_lower", {f.name.lower(): f for f in self.fields})
        object.__setattr__(
            self,
            "_relationships",
            {f.relationship_name.lower(): f for f in self.fields if f.relationship_name is not None},
        )

    def field(self, name: str) -> Field | None:
        """The field whose API name is `name`, compared case-insensitively as Salesforce does."""
        return self._by_lower.get(name.lower())

    def relationship(self, name: str) -> Field | None:
        """The reference field behind relationship `name` (`Account` for AccountId, `Foo__r` for Foo__c)."""
        return self._relationships.get(name.lower())

    def without(self, names: Iterable[str]) -> SObject:
        absent = {n.lower() for n in names}
        return SObject(self.name, self.key_prefix, tuple(f for f in self.fields if f.name.lower() not in absent))


def _text(name: str, length: int, **options: Any) -> Field:
    return Field(name, FieldType.STRING, length=length, **options)


def _reference(name: str, to: str, relationship: str, **options: Any) -> Field:
    return Field(name, FieldType.REFERENCE, length=18, reference_to=to, relationship_name=relationship, **options)


def _full_name(record: Mapping[str, Any]) -> str | None:
    parts = [record.get("FirstName"), record.get("LastName")]
    return " ".join(p for p in parts if p) or None


_READ_ONLY: dict[str, Any] = {"createable": False, "updateable": False}
EXTERNAL_ID = _text("Q2C_External_Id__c", 255, external_id=True)  # an External ID, deliberately not unique


def _system_fields() -> tuple[Field, ...]:
    return (
        Field("Id", FieldType.ID, length=18, **_READ_ONLY),
        Field("IsDeleted", FieldType.BOOLEAN, **_READ_ONLY),
        Field("CreatedDate", FieldType.DATETIME, **_READ_ONLY),
        _reference("CreatedById", "User", "CreatedBy", **_READ_ONLY),
        Field("LastModifiedDate", FieldType.DATETIME, **_READ_ONLY),
        _reference("LastModifiedById", "User", "LastModifiedBy", **_READ_ONLY),
        Field("SystemModstamp", FieldType.DATETIME, **_READ_ONLY),
    )


def _sobject(name: str, key_prefix: str, *fields: Field) -> SObject:
    return SObject(name, key_prefix, (*_system_fields(), *fields, EXTERNAL_ID))


def _currency(name: str, scale: int = 2, **options: Any) -> Field:
    return Field(name, FieldType.CURRENCY, precision=18, scale=scale, **options)


STAGE_CLOSED_WON = "Closed Won"
LONG_TEXT_LENGTH = 32768  # a Long Text Area's default size
_CLOSED_STAGES = {STAGE_CLOSED_WON, "Closed Lost"}

SOBJECTS: tuple[SObject, ...] = (
    _sobject(
        "User",
        "005",
        _text("Username", 80, required=True, unique=True),
        _text("FirstName", 40),
        _text("LastName", 80, required=True),
        Field("Name", FieldType.STRING, length=121, formula=_full_name, **_READ_ONLY),
        Field("Email", FieldType.EMAIL, length=128, required=True),
        Field("IsActive", FieldType.BOOLEAN, default=True),
    ),
    _sobject(
        "Account",
        "001",
        _text("Name", 255, required=True),
        _reference("OwnerId", "User", "Owner"),
        Field("BillingStreet", FieldType.TEXTAREA, length=255),
        _text("BillingCity", 40),
        _text("BillingPostalCode", 20),
        _text("BillingCountry", 80),
        Field("CurrencyIsoCode", FieldType.PICKLIST, length=3),
        _text("Legal_Entity__c", 20),
        _text("Tax_Id__c", 40),
        Field("Payment_Terms_Days__c", FieldType.DOUBLE, precision=3, scale=0),
        _reference("Billing_Contact__c", "Contact", "Billing_Contact__r"),
        Field("Q2C_Last_Payment_Date__c", FieldType.DATE),
        _currency("Q2C_Last_Payment_Amount__c"),
        _currency("Q2C_Open_Receivable__c"),
        Field("Q2C_Payment_Status__c", FieldType.STRING, length=40),
        _text("Q2C_Last_Invoice_Paid__c", 255),
    ),
    _sobject(
        "Contact",
        "003",
        _reference("AccountId", "Account", "Account"),
        _reference("OwnerId", "User", "Owner"),
        _text("FirstName", 40),
        _text("LastName", 80, required=True),
        Field("Name", FieldType.STRING, length=121, formula=_full_name, **_READ_ONLY),
        Field("Email", FieldType.EMAIL, length=80),
    ),
    _sobject(
        "Product2",
        "01t",
        _text("Name", 255, required=True),
        _text("ProductCode", 255),
        Field("IsActive", FieldType.BOOLEAN, default=False),
    ),
    _sobject(
        "Opportunity",
        "006",
        _text("Name", 120, required=True),
        _reference("AccountId", "Account", "Account"),
        _reference("OwnerId", "User", "Owner"),
        Field("StageName", FieldType.PICKLIST, length=255, required=True),
        Field("CloseDate", FieldType.DATE, required=True),
        Field("IsClosed", FieldType.BOOLEAN, formula=lambda r: r.get("StageName") in _CLOSED_STAGES, **_READ_ONLY),
        Field("IsWon", FieldType.BOOLEAN, formula=lambda r: r.get("StageName") == STAGE_CLOSED_WON, **_READ_ONLY),
        Field("CurrencyIsoCode", FieldType.PICKLIST, length=3),
        Field("Contract_Start__c", FieldType.DATE),
        Field("Contract_End__c", FieldType.DATE),
        Field("Q2C_Status__c", FieldType.STRING, length=40),
        _text("Q2C_Saga_Id__c", 255),
        _text("Q2C_Contract_Id__c", 80),
        _text("Q2C_ERP_Customer_Id__c", 80),
        _text("Q2C_Billing_Customer_Id__c", 80),
        _text("Q2C_Subscription_Id__c", 80),
        _text("Q2C_Revenue_Contract_Id__c", 80),
        _text("Q2C_Message__c", 255),
        # An amendment: the opportunity of Type "Amendment" names the contract version it changes, when, and the
        # facts the revenue treatment needs; its line items are the changes. The amendment saga writes back the
        # contract version it made and the billing documents (one ID a line) besides the fields above.
        Field("Type", FieldType.PICKLIST, length=255),
        _text("Q2C_Amended_Contract_Id__c", 80),
        Field("Q2C_Amended_Contract_Version__c", FieldType.DOUBLE, precision=18, scale=0),
        Field("Q2C_Effective_At__c", FieldType.DATETIME),
        Field("Q2C_Credit_Behavior__c", FieldType.PICKLIST, length=40),
        Field("Q2C_Added_Goods_Distinct__c", FieldType.BOOLEAN, default=False),
        Field("Q2C_Priced_At_SSP__c", FieldType.BOOLEAN, default=False),
        Field("Q2C_Remaining_Goods_Distinct__c", FieldType.BOOLEAN, default=False),
        Field("Q2C_Contract_Version__c", FieldType.DOUBLE, precision=18, scale=0),
        _currency("Q2C_Total_Contract_Value__c"),
        Field("Q2C_Invoice_Ids__c", FieldType.TEXTAREA, length=LONG_TEXT_LENGTH),
        Field("Q2C_Credit_Note_Ids__c", FieldType.TEXTAREA, length=LONG_TEXT_LENGTH),
    ),
    _sobject(
        "OpportunityLineItem",
        "00k",
        _reference("OpportunityId", "Opportunity", "Opportunity", required=True, updateable=False),
        _reference("Product2Id", "Product2", "Product2", updateable=False),
        Field("Quantity", FieldType.DOUBLE, precision=12, scale=2),
        _currency("ListPrice"),
        _currency("UnitPrice"),
        Field("Discount", FieldType.PERCENT, precision=5, scale=2),
        _currency("TotalPrice"),
        Field("ServiceDate", FieldType.DATE),
        Field("End_Date__c", FieldType.DATE),
        Field("Line_No__c", FieldType.DOUBLE, precision=3, scale=0),
        Field("Billing_Frequency__c", FieldType.PICKLIST, length=40),
        _text("Usage_Unit__c", 40),
        Field("Included_Per_Month__c", FieldType.DOUBLE, precision=18, scale=0),
        _currency("Overage_Unit_Price__c", scale=6),
        Field("Delivered_On__c", FieldType.DATE),
        Field("Q2C_Change__c", FieldType.PICKLIST, length=40),
        Field("Q2C_Contract_Line__c", FieldType.DOUBLE, precision=3, scale=0),
        Field("Q2C_Term_End__c", FieldType.DATE),
        Field("Q2C_Cancellation__c", FieldType.PICKLIST, length=40),
    ),
)


class Schema:
    """The org's objects, by name (case-insensitive) and by key prefix; `absent` removes undeployed fields."""

    def __init__(self, sobjects: Iterable[SObject] = SOBJECTS, absent: Mapping[str, Iterable[str]] | None = None):
        absent = {k.lower(): tuple(v) for k, v in (absent or {}).items()}
        self._by_lower = {s.name.lower(): s.without(absent.get(s.name.lower(), ())) for s in sobjects}
        self._by_prefix = {s.key_prefix: s for s in self._by_lower.values()}

    def sobject(self, name: str) -> SObject | None:
        return self._by_lower.get(name.lower())

    def by_prefix(self, key_prefix: str) -> SObject | None:
        return self._by_prefix.get(key_prefix)

    def __iter__(self) -> Iterator[SObject]:
        return iter(self._by_lower.values())
