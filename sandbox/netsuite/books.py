"""Record storage inside one store transaction: internal IDs, external IDs, typed reads.

Transactions (invoices, credit memos, payments, journals) share one internal-ID space, as in NetSuite.
"""

from __future__ import annotations

from sandbox.netsuite.recordtypes import RECORD_TYPES, Document, RecordType, restore
from sandbox.store import Transaction


def _collection(rt: RecordType) -> str:
    return f"netsuite.{rt.collection}"


class Books:
    def __init__(self, tx: Transaction) -> None:
        self.tx = tx

    async def get(self, rt: RecordType, record_id: str) -> Document | None:
        doc = await self.tx.get(_collection(rt), record_id)
        return restore(rt, doc) if doc is not None and doc.get("_type") == rt.name else None

    async def get_named(self, type_name: str, record_id: str) -> Document | None:
        return await self.get(RECORD_TYPES[type_name], record_id)

    async def by_external_id(self, rt: RecordType, external_id: str) -> Document | None:
        found = await self.tx.find(_collection(rt), _type=rt.name, externalId=external_id)
        return restore(rt, found[0]) if found else None

    async def all(self, rt: RecordType) -> list[Document]:
        return [restore(rt, d) for d in await self.tx.find(_collection(rt), _type=rt.name)]

    async def all_named(self, type_name: str) -> list[Document]:
        return await self.all(RECORD_TYPES[type_name])

    async def transactions(self) -> list[Document]:
        """Every transaction of every type, in creation order."""
        docs = await self.tx.find("netsuite.transaction")
        return [restore(RECORD_TYPES[d["_type"]], d) for d in docs]

    async def next_id(self, rt: RecordType) -> str:
        return str(await self.tx.count(_collection(rt)) + 1)

    async def put(self, rt: RecordType, doc: Document) -> None:
        await self.tx.put(_collection(rt), doc["id"], doc)
