"""Salesforce record IDs: q2c keeps the 15-character form (the one the demo and people use); Salesforce answers
with 18 characters, whose last three only encode the case of the first fifteen.
"""

from __future__ import annotations

import re

ACCOUNT_PREFIX = "001"
OPPORTUNITY_PREFIX = "006"
_SHAPE = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-5]{3})?")


def id15(record_id: str) -> str:
    """The 15-character form of a 15- or 18-character ID (the 18-character form must keep its case)."""
    return record_id[:15]


def is_record_id(value: str, key_prefix: str) -> bool:
    return _SHAPE.fullmatch(value) is not None and value.startswith(key_prefix)
