"""An async worker process on each anyio backend (asyncio and trio): usage metered from
a task group, deltas sent with ``emit_many`` and waited for, then SIGTERM, received the
anyio way and answered by closing the client. The ledger holds exactly what it did."""

from __future__ import annotations

import signal
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest

from pacspace_sandbox import Sandbox, SandboxServer
from tests._ledger import ledger

from ._servers import require, send_what_was_kept, start_app

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM is POSIX-only")


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_an_anyio_worker_meters_exactly_until_sigterm(
    backend: str, pacspace_sandbox: Sandbox, pacspace_server: SandboxServer, tmp_path: Path
) -> None:
    if backend == "trio":
        require("trio")
    outbox = str(tmp_path / "outbox.sqlite3")
    worker = start_app(
        "anyio_worker",
        backend,
        outbox,
        sandbox=pacspace_sandbox,
        server=pacspace_server,
    )
    try:
        assert worker.stdout is not None
        ready = worker.stdout.readline()
        assert ready == "ready\n", ready + worker.communicate(timeout=30)[1]
        worker.send_signal(signal.SIGTERM)
        out, err = worker.communicate(timeout=60)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert worker.returncode == 0 and "Traceback" not in err, err
    assert out.strip() == "closed lost=0", out + err
    time.sleep(1.5)  # the last one-second window ends, past the seal's grace
    send_what_was_kept(pacspace_sandbox, pacspace_server, outbox)
    per_cell = Decimal("-0.5") * 50  # 300 adds over 3 customers x 2 reasons
    assert ledger(pacspace_sandbox, "customer_id", "reason") == {
        **{(f"c{c}", r): per_cell for c in range(3) for r in ("compute", "storage")},
        ("e0", "usage"): Decimal("-3.75"),
        ("e1", "usage"): Decimal("-3.75"),
    }
