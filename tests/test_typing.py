"""A user's typed code checks against ours: ``tests/typed/user_code.py`` passes
``mypy --strict`` and pyright's strict mode, and every mistake marked in
``tests/typed/misuse.py`` is caught by both (so the types are not ``Any`` in disguise)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from mypy import api as mypy_api

TYPED = Path(__file__).resolve().parent / "typed"
USER_CODE = TYPED / "user_code.py"
MISUSE = TYPED / "misuse.py"


def marked_lines(path: Path) -> set[int]:
    return {
        number
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if line.rstrip().endswith("# error")
    }


def mypy_errors(path: Path) -> set[int]:
    out, _, _ = mypy_api.run(
        [
            "--strict",
            "--no-incremental",
            "--cache-dir",
            os.devnull,
            "--python-version",
            "3.10",
            str(path),
        ]
    )
    lines = set()
    for line in out.splitlines():
        parts = line.split(":")
        if len(parts) > 2 and parts[0].endswith(path.name) and " error: " in line:
            lines.add(int(parts[1]))
    return lines


def pyright() -> str:
    found = shutil.which("pyright", path=str(Path(sys.executable).parent)) or shutil.which(
        "pyright"
    )
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("pyright is not installed (it comes with the dev extra)")
        pytest.skip("pyright is not installed")
    return found


def pyright_errors(path: Path) -> set[int]:
    done = subprocess.run(
        [pyright(), "-p", str(TYPED), "--pythonpath", sys.executable, "--outputjson", str(path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = json.loads(done.stdout)
    return {
        diagnostic["range"]["start"]["line"] + 1
        for diagnostic in report["generalDiagnostics"]
        if diagnostic["severity"] == "error"
    }


def test_user_code_passes_mypy_strict() -> None:
    assert mypy_errors(USER_CODE) == set()


def test_mypy_catches_each_marked_mistake() -> None:
    assert mypy_errors(MISUSE) == marked_lines(MISUSE)


def test_user_code_passes_pyright_strict() -> None:
    assert pyright_errors(USER_CODE) == set()


def test_pyright_catches_each_marked_mistake() -> None:
    assert pyright_errors(MISUSE) == marked_lines(MISUSE)
