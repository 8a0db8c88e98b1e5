"""A serverless function frozen between invocations and reclaimed with SIGKILL: every
invocation's usage is in the ledger exactly, because each ends with the documented
``flush_summaries()``, whatever the process does afterwards (it never runs again)."""

from __future__ import annotations

import signal
import subprocess
import sys
from decimal import Decimal

import pytest

from pacspace_sandbox import Sandbox, SandboxServer
from tests._ledger import ledger

from ._servers import start_app

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGSTOP is POSIX-only")

INVOCATIONS = 10


def expected() -> dict[tuple[str, str], Decimal]:
    totals: dict[tuple[str, str], Decimal] = {}
    for n in range(INVOCATIONS):
        for i in range(10):
            key = (f"c{i % 3}", "compute" if i % 2 else "storage")
            totals[key] = totals.get(key, Decimal(0)) + Decimal("-0.5")
        totals[("c0", "requests")] = totals.get(("c0", "requests"), Decimal(0)) - (n + 1)
    return totals


def test_frozen_between_invocations_and_killed_after_the_last(
    pacspace_sandbox: Sandbox, pacspace_server: SandboxServer
) -> None:
    process = start_app(
        "frozen_invocations",
        str(INVOCATIONS),
        sandbox=pacspace_sandbox,
        server=pacspace_server,
        stdin=subprocess.PIPE,
    )
    assert process.stdin is not None and process.stdout is not None
    try:
        for n in range(INVOCATIONS):
            if n:
                process.send_signal(signal.SIGCONT)  # the platform thaws it for the next call
            process.stdin.write("go\n")
            process.stdin.flush()
            line = process.stdout.readline()
            assert line == f"done {n}\n", (line, process.stderr.read() if line == "" else "")
            process.send_signal(signal.SIGSTOP)  # frozen between invocations
    finally:
        process.kill()  # reclaimed: SIGKILL, no handler, no atexit
        process.wait(timeout=10)
    assert ledger(pacspace_sandbox, "customer_id", "reason") == expected()
