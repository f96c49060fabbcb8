"""Stripe's v1 request encoding: `a[b][0][c]=v` pairs (form body or query string) into nested dicts and lists.

Arrays are always indexed (`items[0][price]`); `expand[]=x` (as in Stripe's curl examples) appends. Arrays come
out as dicts keyed by index: only the parameter schema (`params.py`) knows whether `metadata[0]` is a key or
`items[0]` an element. Values stay strings: the schemas coerce them, so an invalid integer is reported with the
parameter's full name.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_PART = re.compile(r"\[([^\[\]]*)\]")


class FormError(ValueError):
    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param


def parse_pairs(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for key, value in pairs:
        match = _KEY.match(key)
        if match is None:
            raise FormError(key, f"Invalid parameter name: {key}")
        path = [match.group(1), *_PART.findall(match.group(2))]
        _assign(root, path, value, key)
    return root


def parse_form(raw: str) -> dict[str, Any]:
    return parse_pairs(parse_qsl(raw, keep_blank_values=True))


def _assign(node: dict[str, Any], path: list[str], value: str, key: str) -> None:
    for depth, part in enumerate(path[:-1]):
        if part == "":  # `a[][b]`: a new element each time
            part = str(len(node))
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise FormError(key, f"Invalid parameter: {'['.join(path[: depth + 1])} is both a value and an object")
        node = child
    last = path[-1]
    if last == "":
        last = str(len(node))
    if isinstance(node.get(last), dict):
        raise FormError(key, f"Invalid parameter: {key} is both a value and an object")
    node[last] = value


def param_name(path: tuple[str | int, ...]) -> str:
    """`("items", 0, "price")` → `items[0][price]`, as Stripe names parameters in errors."""
    head, *rest = path
    return str(head) + "".join(f"[{part}]" for part in rest)
