"""sObject records in the document store: create, read, update, delete and upsert by external ID.

Each object's records live in the collection `sobject/<Name>`, keyed by 18-character ID. Deleting sets
`IsDeleted` (the recycle bin), so the record is gone from reads and queries but its ID stays taken. After each
save the registered triggers run in the same transaction (the Outbound Message rule is one).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.responses import Response

from sandbox.salesforce import ids, values
from sandbox.salesforce.schema import Field, FieldType, Schema, SObject
from sandbox.salesforce.wire import SalesforceApiError, api_error, json_response, not_found
from sandbox.store import Document, Transaction

COUNTERS = "counters"
RESERVATIONS = "id_reservations"


def collection(sobject: SObject) -> str:
    return f"sobject/{sobject.name}"


def timestamp(moment: datetime | None = None) -> str:
    """A datetime as Salesforce writes one: `2026-12-15T10:00:00.000+0000`."""
    moment = moment or datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


@dataclass(frozen=True)
class SavedRecord:
    sobject: SObject
    before: Document | None
    after: Document

    @property
    def created(self) -> bool:
        return self.before is None


Trigger = Callable[[Transaction, SavedRecord], Awaitable[None]]


class Records:
    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.triggers: list[Trigger] = []

    def sobject(self, name: str) -> SObject:
        sobject = self.schema.sobject(name)
        if sobject is None:
            raise not_found()
        return sobject

    async def get(self, tx: Transaction, sobject: SObject, record_id: str) -> Document:
        """A live record by 15- or 18-character ID; NOT_FOUND otherwise (also for an ID of another object)."""
        normalized = ids.normalize(record_id)
        record = None if normalized is None else await tx.get(collection(sobject), normalized)
        if record is None or record.get("IsDeleted"):
            raise not_found()
        return record

    async def _writable(self, tx: Transaction, sobject: SObject, record_id: str) -> Document:
        normalized = ids.normalize(record_id)
        record = None if normalized is None else await tx.get(collection(sobject), normalized)
        if record is None:
            raise not_found(f"Provided external ID field does not exist or is not accessible: {record_id}")
        if record.get("IsDeleted"):
            raise SalesforceApiError(404, [{"errorCode": "ENTITY_IS_DELETED", "message": "entity is deleted"}])
        return record

    async def live(self, tx: Transaction, sobject: SObject) -> list[Document]:
        return [r for r in await tx.find(collection(sobject)) if not r.get("IsDeleted")]

    async def find_by(self, tx: Transaction, sobject: SObject, field_name: str, value: str) -> list[Document]:
        """Live records whose external-ID field (or Id) equals `value`; external IDs compare case-insensitively."""
        field = self.external_id_field(sobject, field_name)
        if field.name == "Id":
            normalized = ids.normalize(value)
            record = None if normalized is None else await tx.get(collection(sobject), normalized)
            return [record] if record is not None and not record.get("IsDeleted") else []
        wanted = value.casefold()
        return [r for r in await self.live(tx, sobject) if str(r.get(field.name) or "").casefold() == wanted]

    def external_id_field(self, sobject: SObject, field_name: str) -> Field:
        field = sobject.field(field_name)
        if field is None or not (field.external_id or field.name == "Id"):
            raise not_found(f"Provided external ID field does not exist or is not accessible: {field_name}")
        return field

    async def create(
        self, tx: Transaction, sobject: SObject, body: Mapping[str, Any], user_id: str, record_id: str | None = None
    ) -> SavedRecord:
        fields = await self._fields(tx, sobject, body, creating=True)
        now = timestamp()
        record: Document = {f.name: f.default for f in sobject.fields if f.default is not None and f.formula is None}
        if sobject.field("OwnerId") is not None:
            record["OwnerId"] = user_id
        record |= fields
        self._require(sobject, record)
        await self._check_unique(tx, sobject, record, None)
        record_id = record_id or await self.next_id(tx, sobject)
        record |= {
            "Id": record_id,
            "IsDeleted": False,
            "CreatedDate": now,
            "CreatedById": user_id,
            "LastModifiedDate": now,
            "LastModifiedById": user_id,
            "SystemModstamp": now,
        }
        return await self._save(tx, sobject, None, record)

    async def update(
        self, tx: Transaction, sobject: SObject, record_id: str, body: Mapping[str, Any], user_id: str
    ) -> SavedRecord:
        before = await self._writable(tx, sobject, record_id)
        fields = await self._fields(tx, sobject, body, creating=False)
        now = timestamp()
        after = before | fields | {"LastModifiedDate": now, "LastModifiedById": user_id, "SystemModstamp": now}
        self._require(sobject, after)
        await self._check_unique(tx, sobject, after, before["Id"])
        return await self._save(tx, sobject, before, after)

    async def delete(self, tx: Transaction, sobject: SObject, record_id: str) -> None:
        record = await self._writable(tx, sobject, record_id)
        await tx.put(collection(sobject), record["Id"], record | {"IsDeleted": True, "SystemModstamp": timestamp()})

    async def upsert(
        self,
        tx: Transaction,
        sobject: SObject,
        field_name: str,
        value: str,
        body: Mapping[str, Any],
        user_id: str,
        version: str,
    ) -> SavedRecord:
        """Create or update the one record whose external ID is `value`; 300 with their URLs if several match."""
        field = self.external_id_field(sobject, field_name)
        given = next((v for k, v in body.items() if k.lower() == field.name.lower()), value)
        if given != value:
            raise api_error(
                400, "INVALID_FIELD", f"The {field.name} in the body doesn't match the URL: {given}", [field.name]
            )
        matches = await self.find_by(tx, sobject, field.name, value)
        if len(matches) > 1:
            raise multiple_choices(sobject, matches, version)
        if matches:
            return await self.update(tx, sobject, matches[0]["Id"], body, user_id)
        if field.name == "Id":
            raise not_found()
        reserved = await tx.get(RESERVATIONS, f"{sobject.name}/{value.casefold()}")
        record_id = None if reserved is None else str(reserved["Id"])
        if record_id is not None and await tx.get(collection(sobject), record_id) is not None:
            record_id = None  # the reserved ID is taken (the reserved record was deleted): generate one
        return await self.create(tx, sobject, {**body, field.name: value}, user_id, record_id)

    async def reserve_id(self, tx: Transaction, sobject: SObject, external_id: str, record_id: str) -> str:
        """Seed-only: the record later upserted with this external ID gets `record_id` (a real org never allows it)."""
        normalized = ids.normalize(record_id)
        if normalized is None or normalized[:3] != sobject.key_prefix:
            raise api_error(400, "MALFORMED_ID", f"{record_id} is not an ID of {sobject.name}")
        existing = await tx.get(collection(sobject), normalized)
        if existing is not None and str(existing.get("Q2C_External_Id__c") or "").casefold() != external_id.casefold():
            raise api_error(409, "DUPLICATE_VALUE", f"{normalized} is already taken by another record")
        await tx.put(RESERVATIONS, f"{sobject.name}/{external_id.casefold()}", {"Id": normalized})
        return normalized

    def render(self, sobject: SObject, record: Mapping[str, Any], version: str) -> dict[str, Any]:
        """The record as GET /sobjects returns it: attributes, then every field in describe order."""
        rendered: dict[str, Any] = {"attributes": attributes(sobject, str(record["Id"]), version)}
        for field in sobject.fields:
            rendered[field.name] = values.typed(field, record)
        return rendered

    async def _fields(
        self, tx: Transaction, sobject: SObject, body: Mapping[str, Any], creating: bool
    ) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        errors: list[dict[str, Any]] = []
        read_only: list[str] = []
        for key, value in body.items():
            if key == "attributes":
                continue
            field = sobject.field(key)
            if field is None:
                errors.append(
                    {
                        "message": f"No such column '{key}' on sobject of type {sobject.name}",
                        "errorCode": "INVALID_FIELD",
                        "fields": [key],
                    }
                )
                continue
            if not (field.createable if creating else field.updateable):
                read_only.append(field.name)
                continue
            stored, error = values.stored(field, value)
            if error is None and stored is not None and field.type is FieldType.REFERENCE:
                error = await self._reference_error(tx, field, stored)
            if error is not None:
                errors.append(error)
            else:
                fields[field.name] = stored
        if read_only:
            errors.append(
                {
                    "message": f"Unable to create/update fields: {', '.join(read_only)}. Please check the security "
                    "settings of this field and verify that it is read/write for your profile or permission set.",
                    "errorCode": "INVALID_FIELD_FOR_INSERT_UPDATE",
                    "fields": read_only,
                }
            )
        if errors:
            raise SalesforceApiError(400, errors)
        return fields

    async def _reference_error(self, tx: Transaction, field: Field, record_id: str) -> dict[str, Any] | None:
        target = self.schema.sobject(field.reference_to or "")
        if target is None or record_id[:3] != target.key_prefix:
            return values.wrong_reference_type(field, record_id)
        referenced = await tx.get(collection(target), record_id)
        if referenced is None or referenced.get("IsDeleted"):
            return values.missing_reference(field, record_id)
        return None

    @staticmethod
    def _require(sobject: SObject, record: Mapping[str, Any]) -> None:
        missing = [f.name for f in sobject.fields if f.required and record.get(f.name) is None]
        if missing:
            message = f"Required fields are missing: [{', '.join(missing)}]"
            raise api_error(400, "REQUIRED_FIELD_MISSING", message, missing)

    async def _check_unique(
        self, tx: Transaction, sobject: SObject, record: Mapping[str, Any], record_id: str | None
    ) -> None:
        for field in (f for f in sobject.fields if f.unique and record.get(f.name) is not None):
            wanted = str(record[field.name]).casefold()
            clash = next(
                (
                    r
                    for r in await self.live(tx, sobject)
                    if r["Id"] != record_id and str(r.get(field.name) or "").casefold() == wanted
                ),
                None,
            )
            if clash is not None:
                code = "DUPLICATE_USERNAME" if field.name == "Username" else "DUPLICATE_VALUE"
                raise api_error(
                    400,
                    code,
                    f"duplicate value found: {field.name} duplicates value on record with id: {clash['Id']}",
                    [field.name],
                )

    async def next_id(self, tx: Transaction, sobject: SObject) -> str:
        counter = await tx.get(COUNTERS, sobject.key_prefix) or {"next": 1}
        await tx.put(COUNTERS, sobject.key_prefix, {"next": counter["next"] + 1})
        return ids.generated(sobject.key_prefix, int(counter["next"]))

    async def _save(self, tx: Transaction, sobject: SObject, before: Document | None, after: Document) -> SavedRecord:
        await tx.put(collection(sobject), after["Id"], after)
        saved = SavedRecord(sobject, before, after)
        for trigger in self.triggers:
            await trigger(tx, saved)
        return saved


def attributes(sobject: SObject, record_id: str, version: str) -> dict[str, str]:
    return {"type": sobject.name, "url": f"/services/data/v{version}/sobjects/{sobject.name}/{record_id}"}


class MultipleChoices(SalesforceApiError):
    """HTTP 300: an external ID matched several records; the body lists their URLs."""

    def __init__(self, urls: list[str]) -> None:
        super().__init__(300, [])
        self.urls = urls

    def response(self) -> Response:
        return json_response(self.urls, 300)


def multiple_choices(sobject: SObject, matches: Sequence[Document], version: str) -> MultipleChoices:
    return MultipleChoices([attributes(sobject, str(r["Id"]), version)["url"] for r in matches])
