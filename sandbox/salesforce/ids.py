"""Salesforce record IDs: a 3-character key prefix per object, 15 case-sensitive characters, and the 18-character
form whose last three characters encode the case of the first fifteen (so it survives case-insensitive tools).
"""

from __future__ import annotations

import re

_SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SHAPE = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-5]{3})?")

ORGANIZATION_PREFIX = "00D"
QUERY_LOCATOR_PREFIX = "01g"
OUTBOUND_NOTIFICATION_PREFIX = "04l"
OUTBOUND_ACTION_PREFIX = "04k"
GENERATED_POD = "Dn"  # the demo's IDs use pod "NW"; generated ones never collide with them


def to18(id15: str) -> str:
    suffix = ""
    for chunk_start in range(0, 15, 5):
        chunk = id15[chunk_start : chunk_start + 5]
        bits = sum(1 << position for position, char in enumerate(chunk) if "A" <= char <= "Z")
        suffix += _SUFFIX_ALPHABET[bits]
    return id15 + suffix


def normalize(value: str) -> str | None:
    """The canonical 18-character ID for a 15- or 18-character one (any case for 18), or None if malformed."""
    if not _SHAPE.fullmatch(value):
        return None
    if len(value) == 15:
        return to18(value)
    chars = list(value[:15])
    for chunk, code in enumerate(value[15:].upper()):
        bits = _SUFFIX_ALPHABET.index(code)
        for position in range(5):
            index = chunk * 5 + position
            chars[index] = chars[index].upper() if bits >> position & 1 else chars[index].lower()
    canonical = to18("".join(chars))
    return canonical if canonical[15:] == value[15:].upper() else None


def generated(prefix: str, sequence: int) -> str:
    """The `sequence`-th generated ID with `prefix`, in its 18-character form."""
    digits = ""
    for _ in range(9):
        sequence, remainder = divmod(sequence, 62)
        digits = _BASE62[remainder] + digits
    return to18(f"{prefix}{GENERATED_POD}0{digits}")
