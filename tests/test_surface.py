"""Restructuring never changes what users call: the clients' public signatures, async
and generated blocking, are those recorded in ``tests/data/surface.txt`` (regenerate it
with ``python -m tests._surface > tests/data/surface.txt`` only for a deliberate change
of the API). Exports may grow, never shrink."""

from __future__ import annotations

import ast
from pathlib import Path

from tests._surface import surface

RECORDED = Path(__file__).with_name("data") / "surface.txt"


def _split(text: str) -> tuple[dict[str, set[str]], list[str]]:
    exports: dict[str, set[str]] = {}
    rest: list[str] = []
    for line in text.splitlines():
        if ".__all__ = " in line:
            name, _, value = line.partition(" = ")
            exports[name] = set(ast.literal_eval(value))
        else:
            rest.append(line)
    return exports, rest


def test_signatures_are_those_recorded() -> None:
    recorded_exports, recorded = _split(RECORDED.read_text())
    current_exports, current = _split(surface())
    assert current == recorded
    for module, names in recorded_exports.items():
        assert names <= current_exports[module], f"{module} lost {names - current_exports[module]}"
