"""gunicorn ``--preload``: the master builds the blocking client at import and forks its
workers while that client is busy (its loop thread starting, its meter journaling to the
outbox). Every request is answered, and the ledger holds exactly what the app metered.
"""

from __future__ import annotations

import functools
import signal
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import pytest

import pacspace_sync
from pacspace_sandbox import Sandbox, SandboxServer

from ._servers import PYTHON, Server, free_port, require

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="gunicorn is POSIX-only")

CUSTOMERS = ("c0", "c1", "c2", "c3")
REASONS = ("compute", "storage")
AMOUNTS = ("-1", "-0.5", "-0.25")
REQUESTS = 240
ROUNDS = 2
"""Masters started per worker class: the fork races the master's first journal."""


def ledger(sandbox: Sandbox) -> dict[str, Decimal]:
    rows = sandbox.ledger.store.all("SELECT customer_id, amount, reference_id FROM deltas")
    assert len({r["reference_id"] for r in rows}) == len(rows), "an id was recorded twice"
    totals: dict[str, Decimal] = {}
    for row in rows:
        totals[row["customer_id"]] = totals.get(row["customer_id"], 0) + Decimal(row["amount"])
    return totals


def hit(server: Server, n: int) -> tuple[str, Decimal]:
    customer, reason = CUSTOMERS[n % 4], REASONS[(n // 4) % 2]
    amount = AMOUNTS[n % 3]
    path = f"/add?customer={customer}&reason={reason}&amount={amount}"
    with urllib.request.urlopen(server.url(path), timeout=5) as answer:  # answered, in time
        assert answer.status == 200 and answer.read() == b"ok"
    return customer, Decimal(amount)


@pytest.mark.parametrize("worker", ["sync", "gevent"])
def test_preload_forks_a_busy_client_and_the_ledger_is_exact(
    worker: str, pacspace_sandbox: Sandbox, pacspace_server: SandboxServer, tmp_path: Path
) -> None:
    require("gunicorn", *(["gevent"] if worker == "gevent" else []))
    expected: dict[str, Decimal] = {}
    for round_ in range(ROUNDS):
        outbox = tmp_path / f"outbox-{round_}.sqlite3"
        port = free_port()
        server = Server(
            [
                PYTHON,
                "-m",
                "gunicorn",
                "--preload",
                "-w",
                "4",
                "-k",
                worker,
                "-b",
                f"127.0.0.1:{port}",
                "--graceful-timeout",
                "20",
                "tests.stacks.apps.wsgi_meter:application",
            ],
            {
                "PACSPACE_API_KEY": pacspace_sandbox.api_key,
                "PACSPACE_API_BASE_URL": pacspace_server.url,
                "PACSPACE_TEST_OUTBOX": str(outbox),
            },
            port,
            tmp_path / f"gunicorn-{round_}.log",
        )
        try:
            server.wait_ready()
            with ThreadPoolExecutor(8) as pool:
                for customer, amount in pool.map(functools.partial(hit, server), range(REQUESTS)):
                    expected[customer] = expected.get(customer, Decimal(0)) + amount
        finally:
            printed = server.stop(signal.SIGTERM)
        expected["warm-up"] = expected.get("warm-up", Decimal(0)) - 1  # the master's, once
        assert "partially initialized" not in printed and "Traceback" not in printed, printed
        # What the workers kept in the outbox at their exit, sent as a restart would.
        with pacspace_sync.PacSpace(
            pacspace_sandbox.api_key,
            base_url=pacspace_server.url,
            submission={"outbox": str(outbox), "maxRequestsPerMinute": 60_000},
        ) as pac:
            pac.balance.flush_summaries()
    assert ledger(pacspace_sandbox) == expected
