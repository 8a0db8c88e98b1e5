"""The documentation site cannot drift: every Python example on it (and the README's)
runs, against a loopback sandbox, and the generated pages (the ``pacspace`` command's reference, the
``SandboxConfig`` table) list everything there is.

Each page's ``python`` blocks run in order in one namespace, in one event loop: a block
with a top-level ``await`` (or ``async with``) is awaited there, any other runs in a worker
thread, as a script would (so blocking clients work). ``PACSPACE_API_KEY`` and
``PACSPACE_API_BASE_URL`` point at the sandbox, the working directory is a fresh one, and
every client a page leaves open is closed after it.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import anyio
import anyio.to_thread
import pytest

import pacspace_async
import pacspace_sync
from pacspace_sandbox import SandboxConfig, SandboxServer

DOCS = Path(__file__).resolve().parent.parent / "docs"
PAGES = sorted(p for p in DOCS.rglob("*.md") if "_hooks" not in p.parts)
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def generated() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "docs_generated", DOCS / "_hooks" / "generated.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def examples(page: Path) -> list[str]:
    return BLOCK.findall(page.read_text())


def test_there_are_examples_to_run() -> None:
    assert sum(len(examples(page)) for page in PAGES) >= 25


@pytest.fixture
def pacspace_sandbox_config() -> SandboxConfig:
    return SandboxConfig(verify_latency=0.0, seed=1)


README = DOCS.parent / "README.md"


@pytest.mark.parametrize(
    "page",
    [README, *(p for p in PAGES if examples(p))],
    ids=lambda p: "README.md" if p == README else str(p.relative_to(DOCS)),
)
def test_every_example_runs(
    page: Path,
    pacspace_server: SandboxServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("PACSPACE_API_KEY", pacspace_server.sandbox.api_key)
    monkeypatch.setenv("PACSPACE_API_BASE_URL", pacspace_server.url)
    monkeypatch.delenv("PACSPACE_WEBHOOK_SECRET", raising=False)
    monkeypatch.chdir(tmp_path)
    anyio.run(run_page, page)


async def run_page(page: Path) -> None:
    namespace: dict[str, Any] = {"__name__": f"docs_{page.stem}"}
    opened: list[Any] = []
    try:
        for number, source in enumerate(examples(page), 1):
            name = f"{page.name if page == README else page.relative_to(DOCS)} example {number}"
            code = compile(source, name, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
            try:
                if code.co_flags & 0x80:  # CO_COROUTINE: it awaits at the top level
                    await eval(code, namespace)
                else:
                    await anyio.to_thread.run_sync(exec, code, namespace)
            except Exception as exc:
                raise AssertionError(f"{name} failed: {type(exc).__name__}: {exc}") from exc
            opened.extend(
                value
                for value in namespace.values()
                if isinstance(value, (pacspace_async.PacSpace, pacspace_sync.PacSpace))
                and value not in opened
            )
    finally:
        for client in opened:
            if isinstance(client, pacspace_async.PacSpace):
                await client.aclose()
            else:
                await anyio.to_thread.run_sync(client.close)


def test_the_cli_page_lists_every_option_of_every_command() -> None:
    from pacspace_cli import _parser

    page = generated().cli_reference()
    seen = 0

    def walk(name: str, parser: argparse.ArgumentParser) -> None:
        nonlocal seen
        groups = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        for group in groups:
            for sub, child in group.choices.items():
                walk(f"{name} {sub}", child)
        if groups:
            return
        section = page.split(f"## `{name}`\n", 1)[1].split("\n## ", 1)[0]
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            shown = action.option_strings[0] if action.option_strings else action.dest
            row = next((r for r in section.splitlines() if f"`{shown}`" in r), None)
            assert row is not None, f"{name}: {shown} is missing"
            default = action.default
            if action.option_strings and default not in (None, False, []) and not action.required:
                assert f"`{default}`" in row, f"{name} {shown}: default {default!r} not shown"
            seen += 1

    walk("pacspace", _parser())
    assert seen >= 40


def test_the_sandbox_config_table_lists_every_field_with_its_default() -> None:
    import dataclasses

    table = generated().sandbox_config_table()
    for item in dataclasses.fields(SandboxConfig):
        row = next(r for r in table.splitlines() if r.startswith(f"| `{item.name}` |"))
        if isinstance(item.default, (int, float)) and not isinstance(item.default, bool):
            assert f"`{item.default}`" in row
        assert row.rstrip(" |").split("|")[-1].strip(), f"{item.name} has no description"


def test_every_page_is_in_the_navigation() -> None:
    import yaml

    config = yaml.safe_load((DOCS.parent / "mkdocs.yml").read_text().replace("!!python", ""))
    listed: set[str] = set()

    def walk(entries: Any) -> None:
        for entry in entries:
            for value in entry.values() if isinstance(entry, dict) else [entry]:
                if isinstance(value, list):
                    walk(value)
                else:
                    listed.add(value)

    walk(config["nav"])
    assert {str(p.relative_to(DOCS)) for p in PAGES} == listed


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site, built as CI builds it (strict: a broken link or reference fails)."""
    import os
    import subprocess
    import sys

    where = tmp_path_factory.mktemp("site")
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", str(where)],
        cwd=DOCS.parent,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert built.returncode == 0, built.stdout + built.stderr
    return where


@pytest.mark.parametrize(
    ("package", "page"),
    [("pacspace_async", "async"), ("pacspace_sync", "sync"), ("pacspace_sandbox", "sandbox")],
)
def test_the_reference_documents_every_public_name(site: Path, package: str, page: str) -> None:
    import importlib
    import inspect

    module = importlib.import_module(package)
    html = (site / "reference" / page / "index.html").read_text()
    documented = set(re.findall(r'id="([A-Za-z_.]+)"', html))
    public = [
        name
        for name in module.__all__
        if not name.startswith("__") and not inspect.ismodule(getattr(module, name))
    ]
    assert [name for name in public if f"{package}.{name}" not in documented] == []
