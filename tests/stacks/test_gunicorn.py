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

from pacspace_sandbox import Sandbox, SandboxServer
from tests._ledger import ledger

from ._servers import PYTHON, Server, free_port, require, send_what_was_kept

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="gunicorn is POSIX-only")

CUSTOMERS = ("c0", "c1", "c2", "c3")
REASONS = ("compute", "storage")
AMOUNTS = ("-1", "-0.5", "-0.25")
REQUESTS = 240
ROUNDS = 2
"""Masters started per worker class: the fork races the master's first journal."""


def hit(server: Server, n: int) -> tuple[str, Decimal]:
    customer, reason = CUSTOMERS[n % 4], REASONS[(n // 4) % 2]
    amount = AMOUNTS[n % 3]
    path = f"/add?customer={customer}&reason={reason}&amount={amount}"
    with urllib.request.urlopen(server.url(path), timeout=5) as answer:  # answered, in time
        assert answer.status == 200 and answer.read() == b"ok"
    return customer, Decimal(amount)


WORKERS = {
    "sync": ("sync", "tests.stacks.apps.wsgi_meter:application", ()),
    "gevent": ("gevent", "tests.stacks.apps.wsgi_meter:application", ("gevent",)),
    # An async client built at import (no loop yet); each worker runs it on its own loop.
    "uvicorn": ("uvicorn.workers.UvicornWorker", "tests.stacks.apps.asgi_meter:application", ()),
}


@pytest.mark.parametrize("worker", list(WORKERS))
def test_preload_forks_a_busy_client_and_the_ledger_is_exact(
    worker: str, pacspace_sandbox: Sandbox, pacspace_server: SandboxServer, tmp_path: Path
) -> None:
    worker_class, app, needs = WORKERS[worker]
    require("gunicorn", *needs)
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
                worker_class,
                "-b",
                f"127.0.0.1:{port}",
                "--graceful-timeout",
                "20",
                app,
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
        send_what_was_kept(pacspace_sandbox, pacspace_server, outbox)
    assert ledger(pacspace_sandbox) == expected
