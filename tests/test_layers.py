"""Imports point inward: each layer may import only the layers listed for it, and canonical imports none."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = (
    "canonical",
    "adapters",
    "activities",
    "workflows",
    "workers",
    "cli",
    "sandbox",
    "receiver",
    "revenue",
    "bench",
)
ALLOWED = {
    "canonical": set(),
    "adapters": {"canonical", "revenue"},
    "activities": {"canonical", "adapters"},
    "workflows": {"canonical", "activities"},
    "workers": {"canonical", "adapters", "activities", "workflows", "sandbox"},
    "cli": {"canonical", "adapters", "activities", "workflows", "workers", "sandbox", "receiver", "revenue"},
    # The emulators stand in for the vendors: they know q2c's canonical vocabulary (for seeding) and nothing else.
    "sandbox": {"canonical"},
    "receiver": {"canonical", "adapters", "workflows", "workers"},
    # The built-in ASC 606 engine is pure domain logic, like canonical, on which alone it builds.
    "revenue": {"canonical"},
    # Benchmarks drive the whole product from outside, like the CLI.
    "bench": {"canonical", "adapters", "activities", "workflows", "workers", "sandbox", "receiver", "revenue"},
}


def _imported_layers(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return {name.split(".")[0] for name in names} & set(LAYERS)


@pytest.mark.parametrize("layer", LAYERS)
def test_layer_imports_only_inward(layer: str) -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(found - ALLOWED[layer] - {layer})
        for path in (ROOT / layer).rglob("*.py")
        if (found := _imported_layers(path)) - ALLOWED[layer] - {layer}
    }

    assert offenders == {}
