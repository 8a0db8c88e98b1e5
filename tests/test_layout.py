"""The layout keeps its rooms: no module over 500 lines but the generated facade, and no
module importing another package's (or subpackage's) private module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("pacspace_async", "pacspace_sandbox", "pacspace_cli", "pacspace_sync")
GENERATED = {"pacspace_sync/_generated.py"}
MAX_LINES = 500


def _modules() -> list[tuple[str, Path]]:
    out = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out.append((".".join(parts), path))
    return out


def _imported(name: str, path: Path) -> list[str]:
    """Every module ``name`` imports, absolute (``from . import _x`` counts as ``pkg._x``)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            found.append(base)
            found += [
                f"{base}.{a.name}"
                for a in node.names
                if a.name.startswith("_") and not a.name.startswith("__")
            ]
    return found


def _owner(module: str) -> str | None:
    """The package a module is private to: everything before its last private part."""
    parts = module.split(".")
    private = [i for i, part in enumerate(parts) if part.startswith("_") and i > 0]
    return ".".join(parts[: private[-1]]) if private else None


@pytest.mark.parametrize(("name", "path"), _modules(), ids=[n for n, _ in _modules()])
def test_module_is_a_room(name: str, path: Path) -> None:
    relative = path.relative_to(ROOT).as_posix()
    if relative not in GENERATED:
        lines = len(path.read_text().splitlines())
        assert lines <= MAX_LINES, f"{relative} has {lines} lines: split it along its seams"
    for module in _imported(name, path):
        if not module.startswith(PACKAGES) or module.startswith("pacspace_async.__"):
            continue
        owner = _owner(module)
        if owner is None or module.endswith(".__version__"):
            continue
        assert name == owner or name.startswith(owner + "."), (
            f"{name} imports {module}, private to {owner}: use {owner}'s public names"
        )
