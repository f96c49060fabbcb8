"""The record types the emulator serves, their fields, and the conversions between the wire, the store and SuiteQL.

Each type lists its body fields with a kind: `text`, `bool`, `ref` (`{"id": ...}` on the wire), `date`
(`YYYY-MM-DD`), `number` (a JSON number, kept as Decimal). Sublists travel as `{"items": [...]}` like NetSuite's.
A field the type does not have is refused with 400 INVALID_CONTENT naming it (unverified wording).

Simplifications, stated once: items are one generic `item` type (NetSuite has serviceSaleItem,
nonInventorySaleItem, ...); an invoice line may name an `account` to credit instead of the item's income account;
a sublist sent in a PATCH/PUT replaces the stored sublist (as NetSuite's `replace=<sublist>` parameter asks).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from sandbox.netsuite.errors import NetSuiteError, invalid_content

FieldKind = Literal["text", "bool", "ref", "date", "number"]
Document = dict[str, Any]


@dataclass(frozen=True)
class RecordType:
    name: str
    collection: str
    fields: Mapping[str, FieldKind]
    required: tuple[str, ...] = ()
    sublists: Mapping[str, Mapping[str, FieldKind]] = field(default_factory=dict)
    line_required: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    computed: Mapping[str, FieldKind] = field(default_factory=dict)
    custom_prefix: str | None = None
    transaction_code: str | None = None
    column_names: Mapping[str, str] = field(default_factory=dict)

    def column(self, field_name: str) -> str:
        return self.column_names.get(field_name, field_name.lower())


_TX_COMPUTED: dict[str, FieldKind] = {"total": "number", "subsidiary": "ref", "status": "text"}
_ITEM_LINE: dict[str, FieldKind] = {
    "item": "ref",
    "quantity": "number",
    "rate": "number",
    "amount": "number",
    "description": "text",
    "account": "ref",
}
_SALES_FIELDS: dict[str, FieldKind] = {
    "externalId": "text",
    "entity": "ref",
    "tranDate": "date",
    "postingPeriod": "ref",
    "currency": "ref",
    "account": "ref",
    "memo": "text",
    "otherRefNum": "text",
    "tranId": "text",
    "dueDate": "date",
}

RECORD_TYPES: dict[str, RecordType] = {
    t.name: t
    for t in (
        RecordType(
            "customer",
            "customer",
            {
                "externalId": "text",
                "entityId": "text",
                "companyName": "text",
                "isPerson": "bool",
                "email": "text",
                "phone": "text",
                "subsidiary": "ref",
                "currency": "ref",
                "terms": "ref",
                "isInactive": "bool",
                "comments": "text",
            },
            required=("companyName", "subsidiary"),
            computed={"balance": "number"},
            custom_prefix="custentity_",
        ),
        RecordType(
            "invoice",
            "transaction",
            _SALES_FIELDS,
            required=("entity", "tranDate", "item"),
            sublists={"item": _ITEM_LINE},
            line_required={"item": ("item",)},
            computed={**_TX_COMPUTED, "amountRemaining": "number"},
            transaction_code="CustInvc",
        ),
        RecordType(
            "creditMemo",
            "transaction",
            {**_SALES_FIELDS, "createdFrom": "ref"},
            required=("entity", "tranDate", "item"),
            sublists={"item": _ITEM_LINE},
            line_required={"item": ("item",)},
            computed={**_TX_COMPUTED, "applied": "number", "unapplied": "number"},
            transaction_code="CustCred",
        ),
        RecordType(
            "customerPayment",
            "transaction",
            {
                "externalId": "text",
                "customer": "ref",
                "tranDate": "date",
                "postingPeriod": "ref",
                "payment": "number",
                "account": "ref",
                "currency": "ref",
                "memo": "text",
                "tranId": "text",
            },
            required=("customer", "tranDate", "payment"),
            sublists={"apply": {"doc": "ref", "apply": "bool", "amount": "number"}},
            line_required={"apply": ("doc",)},
            computed={**_TX_COMPUTED, "applied": "number", "unapplied": "number"},
            transaction_code="CustPymt",
        ),
        RecordType(
            "journalEntry",
            "transaction",
            {
                "externalId": "text",
                "tranDate": "date",
                "postingPeriod": "ref",
                "subsidiary": "ref",
                "currency": "ref",
                "memo": "text",
                "tranId": "text",
            },
            required=("tranDate", "subsidiary", "line"),
            sublists={
                "line": {"account": "ref", "debit": "number", "credit": "number", "memo": "text", "entity": "ref"}
            },
            line_required={"line": ("account",)},
            computed={"total": "number", "status": "text"},
            transaction_code="Journal",
        ),
        RecordType(
            "accountingPeriod",
            "accountingPeriod",
            {"externalId": "text", "periodName": "text", "startDate": "date", "endDate": "date", "closed": "bool"},
            required=("periodName", "startDate", "endDate"),
        ),
        RecordType(
            "account",
            "account",
            {
                "externalId": "text",
                "acctNumber": "text",
                "acctName": "text",
                "acctType": "text",
                "description": "text",
                "isInactive": "bool",
            },
            required=("acctNumber", "acctName", "acctType"),
        ),
        RecordType(
            "subsidiary",
            "subsidiary",
            {"externalId": "text", "name": "text", "country": "text", "currency": "ref", "isInactive": "bool"},
            required=("name",),
        ),
        RecordType(
            "item",
            "item",
            {
                "externalId": "text",
                "itemId": "text",
                "displayName": "text",
                "itemType": "text",
                "incomeAccount": "ref",
                "isInactive": "bool",
            },
            required=("itemId", "incomeAccount"),
        ),
        RecordType(
            "currency", "currency", {"externalId": "text", "name": "text", "symbol": "text"}, ("name", "symbol")
        ),
        RecordType("term", "term", {"externalId": "text", "name": "text", "daysUntilNetDue": "number"}, ("name",)),
    )
}


def record_type(name: str) -> RecordType:
    found = RECORD_TYPES.get(name)
    if found is None:
        raise NetSuiteError(404, "NONEXISTENT_RECORD_TYPE", f"Record type '{name}' does not exist.")  # unverified code
    return found


# --- wire → stored ------------------------------------------------------------------------------------------


def _convert(kind: FieldKind, value: Any, path: str) -> Any:
    if value is None:
        return None
    if kind == "text" and isinstance(value, str):
        return value
    if kind == "bool" and isinstance(value, bool):
        return value
    if kind == "number" and isinstance(value, int | Decimal) and not isinstance(value, bool):
        return Decimal(value)
    if kind == "date" and isinstance(value, str):
        try:
            date.fromisoformat(value)
        except ValueError:
            pass
        else:
            return value
    if kind == "ref" and isinstance(value, Mapping) and isinstance(value.get("id"), str | int):
        return {"id": str(value["id"])}
    raise invalid_content(f"Invalid value {value!r} for the field {path.split('.')[-1]} (expected {kind}).", path)


def normalize(rt: RecordType, body: Any, custom_fields: tuple[str, ...]) -> Document:
    """A request body as the fields to store; raises NetSuite's 400 naming the first bad field."""
    if not isinstance(body, Mapping):
        raise invalid_content("The request body must be a JSON object.", "")
    fields: Document = {}
    for name, value in body.items():
        if name == "links":
            continue
        if name in rt.sublists:
            fields[name] = _normalize_sublist(rt, name, value)
        elif name in rt.fields:
            fields[name] = _convert(rt.fields[name], value, name)
        elif rt.custom_prefix and name.startswith(rt.custom_prefix) and name in custom_fields:
            if value is not None and not isinstance(value, str | bool | int | Decimal):
                raise invalid_content(f"Invalid value for the custom field {name}.", name)
            fields[name] = value
        elif name in rt.computed or name == "id":
            raise invalid_content(f"The field {name} is read-only.", name)
        else:
            raise invalid_content(f"The field {name} does not exist on the {rt.name} record.", name)
    return fields


def _normalize_sublist(rt: RecordType, name: str, value: Any) -> list[Document]:
    if not isinstance(value, Mapping) or not isinstance(value.get("items"), list):
        raise invalid_content(f"The sublist {name} must be an object with an items array.", name)
    lines: list[Document] = []
    for index, line in enumerate(value["items"]):
        path = f"{name}.items[{index}]"
        if not isinstance(line, Mapping):
            raise invalid_content("A sublist line must be a JSON object.", path)
        normalized: Document = {}
        for key, item in line.items():
            if key == "links":
                continue
            kind = rt.sublists[name].get(key)
            if kind is None:
                raise invalid_content(f"The field {key} does not exist on the {name} sublist.", f"{path}.{key}")
            normalized[key] = _convert(kind, item, f"{path}.{key}")
        for key in rt.line_required.get(name, ()):
            if normalized.get(key) is None:
                raise missing_value(key, f"{path}.{key}")
        lines.append(normalized)
    return lines


def missing_value(field_name: str, path: str) -> NetSuiteError:
    return NetSuiteError(
        400, "USER_ERROR", f"Error while accessing a resource. Please enter value(s) for: {field_name}.", path
    )


def check_required(rt: RecordType, doc: Document) -> None:
    for name in rt.required:
        value = doc.get(name)
        if value is None or value == "" or (name in rt.sublists and not value):
            raise missing_value(name, name)


# --- stored → wire / SuiteQL --------------------------------------------------------------------------------


def restore(rt: RecordType, doc: Document) -> Document:
    """A stored document (numbers were written as strings) with its numbers as Decimal again."""
    restored = dict(doc)
    for name, kind in {**rt.fields, **rt.computed}.items():
        if kind == "number" and restored.get(name) is not None:
            restored[name] = Decimal(str(restored[name]))
    for name, kinds in rt.sublists.items():
        if isinstance(restored.get(name), list):
            restored[name] = [
                {k: Decimal(str(v)) if kinds.get(k) == "number" and v is not None else v for k, v in line.items()}
                for line in restored[name]
            ]
    return restored


def record_url(base: str, type_name: str, record_id: str) -> str:
    return f"{base}/services/rest/record/v1/{type_name}/{record_id}"


def present(rt: RecordType, doc: Document, base: str, expand: bool) -> Document:
    """The REST representation: links, id, body fields, references as `{id, links}`, sublists expanded or linked."""
    url = record_url(base, rt.name, doc["id"])
    out: Document = {"links": [{"rel": "self", "href": url}], "id": doc["id"]}
    kinds = {**rt.fields, **rt.computed}
    for name, value in doc.items():
        if name.startswith("_") or name == "id" or value is None:
            continue
        if name in rt.sublists:
            links = [{"rel": "self", "href": f"{url}/{name}"}]
            out[name] = (
                {"links": links, "items": [_present_line(line) for line in value]} if expand else {"links": links}
            )
        elif kinds.get(name) == "ref":
            out[name] = {"links": [], "id": value["id"]}
        else:
            out[name] = value
    return out


def _present_line(line: Document) -> Document:
    return {k: {"links": [], "id": v["id"]} if isinstance(v, dict) else v for k, v in line.items() if v is not None}


def columns_of(rt: RecordType, custom_fields: tuple[str, ...]) -> set[str]:
    names = {"id", *(rt.column(n) for n in rt.fields), *(rt.column(n) for n in rt.computed)}
    if rt.custom_prefix:
        names |= {f.lower() for f in custom_fields if f.startswith(rt.custom_prefix)}
    return names


def row_of(rt: RecordType, doc: Document) -> dict[str, Any]:
    """A record as a SuiteQL row: lower-case column names, references as IDs, checkboxes as 'T'/'F'."""
    kinds = {**rt.fields, **rt.computed}
    row: dict[str, Any] = {"id": doc["id"]}
    for name, value in doc.items():
        if name.startswith("_") or name in rt.sublists or name == "id":
            continue
        kind = kinds.get(name, "text")
        if isinstance(value, bool):
            row[rt.column(name)] = "T" if value else "F"
        elif kind == "ref" and isinstance(value, dict):
            row[rt.column(name)] = value["id"]
        elif kind == "date" and isinstance(value, str):
            row[rt.column(name)] = date.fromisoformat(value)
        else:
            row[rt.column(name)] = value
    for name, kind in kinds.items():
        if kind == "bool" and rt.column(name) not in row:
            row[rt.column(name)] = "F"
    return row
