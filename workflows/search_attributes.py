"""The custom search attributes every q2c saga keeps current, so one Temporal UI query finds any saga.

Amounts are indexed in the currency's minor unit (Int), never as a Double: a search filter on money must be
exact. The workers check at start-up that these exist on the namespace (see `workers.search_attribute_check`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

from canonical.saga import SagaStatus

SAGA_TYPE = SearchAttributeKey.for_keyword("Q2cSagaType")
SAGA_STATUS = SearchAttributeKey.for_keyword("Q2cSagaStatus")
SAGA_STEP = SearchAttributeKey.for_keyword("Q2cSagaStep")
CRM_ACCOUNT_ID = SearchAttributeKey.for_keyword("Q2cCrmAccountId")
OPPORTUNITY_ID = SearchAttributeKey.for_keyword("Q2cOpportunityId")
CONTRACT_ID = SearchAttributeKey.for_keyword("Q2cContractId")
EXCEPTION_CATEGORY = SearchAttributeKey.for_keyword("Q2cExceptionCategory")
AMOUNT_MINOR = SearchAttributeKey.for_int("Q2cAmountMinor")
CURRENCY = SearchAttributeKey.for_keyword("Q2cCurrency")
DOCUMENT_ID = SearchAttributeKey.for_keyword("Q2cDocumentId")  # billing invoice or credit note
ACCOUNTING_PERIOD = SearchAttributeKey.for_keyword("Q2cAccountingPeriod")  # YYYY-MM of the period closed

ALL: Sequence[SearchAttributeKey[str] | SearchAttributeKey[int]] = (
    SAGA_TYPE,
    SAGA_STATUS,
    SAGA_STEP,
    CRM_ACCOUNT_ID,
    OPPORTUNITY_ID,
    CONTRACT_ID,
    EXCEPTION_CATEGORY,
    AMOUNT_MINOR,
    CURRENCY,
    DOCUMENT_ID,
    ACCOUNTING_PERIOD,
)


# The type names `temporal server start-dev --search-attribute`, `temporal operator search-attribute create`
# and `tcld ... --search-attribute` all accept.
TYPE_NAMES: Mapping[int, str] = {
    IndexedValueType.INDEXED_VALUE_TYPE_TEXT: "Text",
    IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD: "Keyword",
    IndexedValueType.INDEXED_VALUE_TYPE_INT: "Int",
    IndexedValueType.INDEXED_VALUE_TYPE_DOUBLE: "Double",
    IndexedValueType.INDEXED_VALUE_TYPE_BOOL: "Bool",
    IndexedValueType.INDEXED_VALUE_TYPE_DATETIME: "Datetime",
    IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST: "KeywordList",
}


def dev_server_flags() -> list[str]:
    """`--search-attribute NAME=Type` flags that register every key with `temporal server start-dev`."""
    flags: list[str] = []
    for key in ALL:
        flags += ["--search-attribute", f"{key.name}={TYPE_NAMES[key.indexed_value_type]}"]
    return flags


def set_at_start(saga_type: str, business_key: SearchAttributeKey[str], value: str) -> TypedSearchAttributes:
    """What a saga's start sets: its type, status running and the business key it is found by. Set at start they
    cost no upsert (and no Action), and the saga's first publish finds them already there."""
    return TypedSearchAttributes(
        [
            SearchAttributePair(SAGA_TYPE, saga_type),
            SearchAttributePair(SAGA_STATUS, SagaStatus.RUNNING.value),
            SearchAttributePair(business_key, value),
        ]
    )
