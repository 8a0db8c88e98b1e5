"""The pytest plugin costs nothing until a fixture is used: a project that installs
``pacspace`` without the sandbox extra keeps its own test runs working."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

BLOCK = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("starlette", "uvicorn"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, Block())
import pytest
sys.exit(pytest.main(sys.argv[1:]))
"""


def run(tmp_path: Path, test: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_user.py").write_text(textwrap.dedent(test))
    return subprocess.run(
        [sys.executable, "-c", BLOCK, "-q", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )


def test_an_unrelated_test_suite_runs_without_the_sandbox_extra(tmp_path: Path) -> None:
    done = run(tmp_path, "def test_mine():\n    assert 1 + 1 == 2\n")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout


def test_using_a_fixture_without_the_extra_says_what_to_install(tmp_path: Path) -> None:
    done = run(tmp_path, "def test_mine(pacspace_sandbox):\n    pass\n")
    assert done.returncode != 0
    assert 'pip install "pacspace[sandbox]"' in done.stdout + done.stderr
