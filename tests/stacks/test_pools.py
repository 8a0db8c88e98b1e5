"""A ``multiprocessing`` pool forked from a process with a client: its processes exit
with ``os._exit`` (no ``atexit``), yet what each metered is delivered (memory) or kept
sealed for the next start (an outbox), exactly once."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from pacspace_sandbox import Sandbox, SandboxServer
from tests._ledger import ledger

from ._servers import PYTHON, ROOT, send_what_was_kept

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="fork is POSIX-only")


@pytest.mark.parametrize("store", ["memory", "sqlite"])
def test_pool_processes_deliver_what_they_metered(
    store: str, pacspace_sandbox: Sandbox, pacspace_server: SandboxServer, tmp_path: Path
) -> None:
    outbox = "memory" if store == "memory" else str(tmp_path / "outbox.sqlite3")
    done = subprocess.run(
        [PYTHON, "-m", "tests.stacks.apps.pool_meter", outbox],
        cwd=ROOT,
        env={
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "PACSPACE_API_KEY": pacspace_sandbox.api_key,
            "PACSPACE_API_BASE_URL": pacspace_server.url,
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert int(done.stdout) > 1, "the work ran in one pool process only"
    if store != "memory":  # what the pool kept, sent as the next start would
        send_what_was_kept(pacspace_sandbox, pacspace_server, outbox)
    assert ledger(pacspace_sandbox) == {
        "parent": Decimal(-1),
        "c0": Decimal(-10),
        "c1": Decimal(-10),
        "c2": Decimal(-10),
    }
