"""Runs a parsed SOQL query against the stored records: resolves field paths on the schema, checks the filter's
literal types, filters, orders, pages and projects records into the REST shape (relationship fields as nested
objects with their own `attributes`).

A result larger than the batch size is kept as a query locator (`01g…`) in the store; `nextRecordsUrl` is
`/services/data/vNN.0/query/<locator>-<offset of the next batch>`, as Salesforce writes it.
"""

from __future__ import annotations

import functools
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from sandbox.salesforce import ids, soql, values
from sandbox.salesforce.records import Records, attributes, collection, timestamp
from sandbox.salesforce.schema import Field, FieldType, SObject
from sandbox.salesforce.wire import api_error, dumps, loads, not_found
from sandbox.store import Document, Transaction

CURSORS = "query_cursors"
MAX_OFFSET = 2000
_NO_SUCH_COLUMN = (
    "No such column '{name}' on entity '{sobject}'. If you are attempting to use a custom field, be sure to "
    "append the '__c' after the custom field name. Please reference your WSDL or the describe call for the "
    "appropriate names."
)
_BAD_RELATIONSHIP = (
    "Didn't understand relationship '{name}' in field path. If you are attempting to use a custom relationship, "
    "be sure to append the '__r' after the custom relationship name. Please reference your WSDL or the describe "
    "call for the appropriate names."
)


@dataclass(frozen=True)
class ResolvedPath:
    """A field path resolved on the schema: the reference fields followed, then the field read."""

    relationships: tuple[Field, ...]
    field: Field
    names: tuple[str, ...]  # API-name casing, as the response spells them


class Resolver:
    def __init__(self, records: Records) -> None:
        self._records = records

    def sobject(self, query: soql.SoqlQuery) -> SObject:
        sobject = self._records.schema.sobject(query.sobject)
        if sobject is None:
            raise soql.SoqlError(
                "INVALID_TYPE",
                f"sObject type '{query.sobject}' is not supported. If you are attempting to use a custom object, "
                "be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call "
                "for the appropriate names.",
                query.sobject_position,
            )
        return sobject

    def path(self, sobject: SObject, ref: soql.FieldRef) -> ResolvedPath:
        current, followed, names = sobject, [], []
        for part in ref.path[:-1]:
            reference = current.relationship(part)
            target = self._records.schema.sobject(reference.reference_to or "") if reference else None
            if reference is None or target is None:
                raise soql.SoqlError("INVALID_FIELD", _BAD_RELATIONSHIP.format(name=part), ref.position)
            followed.append(reference)
            names.append(reference.relationship_name or part)
            current = target
        field = current.field(ref.path[-1])
        if field is None:
            raise soql.SoqlError(
                "INVALID_FIELD", _NO_SUCH_COLUMN.format(name=ref.path[-1], sobject=current.name), ref.position
            )
        return ResolvedPath(tuple(followed), field, (*names, field.name))


def _expected_kind(field: Field) -> soql.LiteralKind:
    if field.type.is_number:
        return soql.LiteralKind.NUMBER
    return {
        FieldType.BOOLEAN: soql.LiteralKind.BOOLEAN,
        FieldType.DATE: soql.LiteralKind.DATE,
        FieldType.DATETIME: soql.LiteralKind.DATETIME,
    }.get(field.type, soql.LiteralKind.STRING)


def _check_literal(path: ResolvedPath, literal: soql.Literal, operator: str) -> Any:
    """The literal as a comparable value, after Salesforce's type checks on filter values."""
    field = path.field
    if literal.kind is soql.LiteralKind.NULL:
        if operator not in {"=", "!=", "IN"}:
            raise soql.SoqlError("MALFORMED_QUERY", "invalid operator on null value", literal.position)
        return None
    expected = _expected_kind(field)
    if literal.kind is not expected:
        quoted = "and should not be enclosed in quotes" if literal.kind is soql.LiteralKind.STRING else ""
        raise soql.SoqlError(
            "INVALID_FIELD",
            f"value of filter criterion for field '{field.name}' must be of type {field.type.value} {quoted}".strip(),
            literal.position,
        )
    if operator == "LIKE" and not field.type.is_text:
        raise soql.SoqlError("INVALID_FIELD", f"invalid operator on field: {field.name}", literal.position)
    if field.type in {FieldType.ID, FieldType.REFERENCE}:
        normalized = ids.normalize(literal.value)
        if normalized is None:
            raise soql.SoqlError(
                "INVALID_QUERY_FILTER_OPERATOR", f"invalid ID field: {literal.value}", literal.position
            )
        return normalized
    if literal.kind is soql.LiteralKind.DATE:
        return literal.value.isoformat()
    if literal.kind is soql.LiteralKind.DATETIME:
        moment = literal.value if literal.value.tzinfo else literal.value.replace(tzinfo=UTC)
        return timestamp(moment.astimezone(UTC))
    return literal.value


class _Evaluator:
    """Evaluates one query's conditions and projections, following references through a per-query cache."""

    def __init__(self, tx: Transaction, records: Records, resolver: Resolver, sobject: SObject) -> None:
        self._tx = tx
        self._records = records
        self._resolver = resolver
        self._sobject = sobject
        self._cache: dict[tuple[str, str], Document | None] = {}

    async def related(self, record: Document, reference: Field) -> Document | None:
        target_id = record.get(reference.name)
        target = self._records.schema.sobject(reference.reference_to or "")
        if target_id is None or target is None:
            return None
        key = (target.name, str(target_id))
        if key not in self._cache:
            found = await self._tx.get(collection(target), str(target_id))
            self._cache[key] = None if found is None or found.get("IsDeleted") else found
        return self._cache[key]

    async def value(self, record: Document, path: ResolvedPath) -> Any:
        current: Document | None = record
        for reference in path.relationships:
            current = await self.related(current, reference) if current is not None else None
        return None if current is None else values.typed(path.field, current)

    async def matches(self, record: Document, condition: soql.Condition) -> bool:
        if isinstance(condition, soql.And):
            return all([await self.matches(record, c) for c in condition.operands])
        if isinstance(condition, soql.Or):
            return any([await self.matches(record, c) for c in condition.operands])
        if isinstance(condition, soql.Not):
            return not await self.matches(record, condition.operand)
        path = self._resolver.path(self._sobject, condition.field)
        actual = _comparable(await self.value(record, path))
        if isinstance(condition, soql.Membership):
            wanted = {_comparable(_check_literal(path, v, "IN")) for v in condition.values}
            return (actual in wanted) != condition.negated
        expected = _comparable(_check_literal(path, condition.value, condition.operator))
        return _compare(actual, condition.operator, expected)

    async def project(self, record: Document, paths: Sequence[ResolvedPath], version: str) -> dict[str, Any]:
        projected: dict[str, Any] = {"attributes": attributes(self._sobject, str(record["Id"]), version)}
        for path in paths:
            await self._place(projected, record, path, 0, version)
        return projected

    async def _place(
        self, into: dict[str, Any], record: Document, path: ResolvedPath, depth: int, version: str
    ) -> None:
        if depth == len(path.relationships):
            into[path.field.name] = values.typed(path.field, record)
            return
        reference, name = path.relationships[depth], path.names[depth]
        if name in into and into[name] is None:
            return
        related = await self.related(record, reference)
        if related is None:
            into[name] = None
            return
        target = self._records.schema.sobject(reference.reference_to or "")
        assert target is not None
        nested = into.setdefault(name, {"attributes": attributes(target, str(related["Id"]), version)})
        await self._place(nested, related, path, depth + 1, version)


def _comparable(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


def _compare(actual: Any, operator: str, expected: Any) -> bool:
    if operator == "=":
        return bool(actual == expected)
    if operator == "!=":
        return bool(actual != expected)
    if actual is None or expected is None:
        return False
    if operator == "LIKE":
        return _like(str(expected)).fullmatch(str(actual)) is not None
    comparisons = {"<": actual < expected, "<=": actual <= expected, ">": actual > expected, ">=": actual >= expected}
    return bool(comparisons[operator])


@functools.lru_cache(maxsize=256)
def _like(pattern: str) -> re.Pattern[str]:
    regex, index = "", 0
    while index < len(pattern):
        if pattern.startswith(("\\_", "\\%"), index):
            regex += re.escape(pattern[index + 1])
            index += 2
            continue
        char = pattern[index]
        regex += ".*" if char == "%" else "." if char == "_" else re.escape(char)
        index += 1
    return re.compile(regex, re.IGNORECASE | re.DOTALL)


class QueryService:
    def __init__(self, records: Records, batch_size: int) -> None:
        self._records = records
        self._resolver = Resolver(records)
        self.batch_size = batch_size

    async def run(self, tx: Transaction, text: str, version: str, batch_size: int | None = None) -> dict[str, Any]:
        try:
            return await self._run(tx, soql.parse(text), version, batch_size or self.batch_size)
        except soql.SoqlError as error:
            raise api_error(400, error.code, error.message(text)) from error

    async def more(self, tx: Transaction, locator: str, version: str) -> dict[str, Any]:
        match = re.fullmatch(r"(01g[A-Za-z0-9]{12,15})-(\d+)", locator)
        cursor = None if match is None else await tx.get(CURSORS, match.group(1))
        if match is None or cursor is None:
            raise api_error(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        records = loads(cursor["records"].encode())
        return self._page(match.group(1), records, int(cursor["batch_size"]), int(match.group(2)), version)

    async def _run(self, tx: Transaction, query: soql.SoqlQuery, version: str, batch_size: int) -> dict[str, Any]:
        sobject = self._resolver.sobject(query)
        paths = [self._resolver.path(sobject, ref) for ref in query.fields]
        seen: set[tuple[str, ...]] = set()
        for ref, path in zip(query.fields, paths, strict=True):
            if path.names in seen:
                raise soql.SoqlError("MALFORMED_QUERY", f"duplicate field selected: {ref.text}", ref.position)
            seen.add(path.names)
        if query.offset is not None and query.offset > MAX_OFFSET:
            raise soql.SoqlError("NUMBER_OUTSIDE_VALID_RANGE", f"Maximum SOQL offset allowed is {MAX_OFFSET}")
        if query.where is not None:
            self._validate(sobject, query.where)
        evaluator = _Evaluator(tx, self._records, self._resolver, sobject)
        candidates = await self._records.live(tx, sobject)
        if query.where is not None:
            candidates = [r for r in candidates if await evaluator.matches(r, query.where)]
        candidates = await self._ordered(evaluator, sobject, candidates, query.order_by)
        start = query.offset or 0
        end = None if query.limit is None else start + query.limit
        projected = [await evaluator.project(r, paths, version) for r in candidates[start:end]]
        locator = ids.QUERY_LOCATOR_PREFIX + secrets.token_hex(6).upper()
        if len(projected) > batch_size:  # the rest waits under a query locator, numbers kept exact as JSON text
            await tx.put(CURSORS, locator, {"records": dumps(projected), "batch_size": batch_size})
        return self._page(locator, projected, batch_size, 0, version)

    def _validate(self, sobject: SObject, condition: soql.Condition) -> None:
        """Resolve every field and check every literal up front, so an empty result never hides a bad query."""
        if isinstance(condition, soql.And | soql.Or):
            for operand in condition.operands:
                self._validate(sobject, operand)
        elif isinstance(condition, soql.Not):
            self._validate(sobject, condition.operand)
        elif isinstance(condition, soql.Membership):
            path = self._resolver.path(sobject, condition.field)
            for literal in condition.values:
                _check_literal(path, literal, "IN")
        else:
            _check_literal(self._resolver.path(sobject, condition.field), condition.value, condition.operator)

    async def _ordered(
        self, evaluator: _Evaluator, sobject: SObject, candidates: list[Document], order_by: Sequence[soql.Ordering]
    ) -> list[Document]:
        if not order_by:
            return candidates
        paths = [self._resolver.path(sobject, o.field) for o in order_by]
        keyed = [([await evaluator.value(r, p) for p in paths], r) for r in candidates]

        def compare(left: tuple[list[Any], Document], right: tuple[list[Any], Document]) -> int:
            for ordering, a, b in zip(order_by, left[0], right[0], strict=True):
                if a is None or b is None:
                    if a is None and b is None:
                        continue
                    return (1 if a is None else -1) * (1 if ordering.nulls_last else -1)
                ka, kb = _comparable(a), _comparable(b)
                if ka != kb:
                    return (1 if ka > kb else -1) * (-1 if ordering.descending else 1)
            return 0

        return [record for _, record in sorted(keyed, key=functools.cmp_to_key(compare))]

    @staticmethod
    def _page(locator: str, records: list[Any], batch_size: int, offset: int, version: str) -> dict[str, Any]:
        if offset > len(records):
            raise not_found()
        batch = records[offset : offset + batch_size]
        following = offset + len(batch)
        page: dict[str, Any] = {"totalSize": len(records), "done": following >= len(records)}
        if not page["done"]:
            page["nextRecordsUrl"] = f"/services/data/v{version}/query/{locator}-{following}"
        page["records"] = batch
        return page
