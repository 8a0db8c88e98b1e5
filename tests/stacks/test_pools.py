"""A ``multiprocessing`` pool forked from a process with a client: its processes exit
with ``os._exit`` (no ``atexit``), yet what each metered is delivered (memory) or kept
sealed for the next start (an outbox), exactly once."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from pacspace_sandbox import Sandbox, SandboxServer
from tests._ledger import ledger

from ._servers import send_what_was_kept, start_app

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="fork is POSIX-only")


@pytest.mark.parametrize("store", ["memory", "sqlite"])
def test_pool_processes_deliver_what_they_metered(
    store: str, pacspace_sandbox: Sandbox, pacspace_server: SandboxServer, tmp_path: Path
) -> None:
    outbox = "memory" if store == "memory" else str(tmp_path / "outbox.sqlite3")
    process = start_app(
        "pool_meter",
        outbox,
        sandbox=pacspace_sandbox,
        server=pacspace_server,
    )
    stdout, stderr = process.communicate(timeout=120)
    done = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
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
