"""A metered service run as a fleet of OS processes, in every storage mode.

Each worker meters the same customers with two reasons and equal totals (the cases that
used to collide), and is stopped the way services are stopped: SIGTERM with its windows
still open, SIGKILL in the middle of its work, or a shutdown while the service is down.
After a restart, the ledger per customer is compared with the sum of every add.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from pacspace_sandbox import Sandbox, SandboxServer
from tests._ledger import ledger

from ._chaos import DroppingProxy

WORKER = str(Path(__file__).with_name("fleet_worker.py"))
CUSTOMERS = ["a", "b"]
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


@pytest.fixture(params=["memory", "sqlite-each", "sqlite-shared", "postgres"])
def outbox_for(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[int], str]:
    """The outbox of worker ``n`` in this mode."""
    mode: str = request.param
    if mode == "memory":
        return lambda n: "-"
    if mode == "sqlite-each":
        return lambda n: str(tmp_path / f"outbox-{n}.sqlite3")
    if mode == "sqlite-shared":
        return lambda n: str(tmp_path / "outbox.sqlite3")
    url: str = request.getfixturevalue("postgres_url")
    return lambda n: url


@pytest.fixture(params=["sqlite-shared", "postgres"])
def shared_outbox(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        url: str = request.getfixturevalue("postgres_url")
        return url
    return str(tmp_path / "outbox.sqlite3")


class Worker:
    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, WORKER, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.added = 0
        self.lines: list[tuple[float, str]] = []

    def read_until(self, wanted: str, *, added: int | None = None) -> None:
        assert self.process.stdout is not None
        while True:
            line = self.process.stdout.readline().strip()
            if not line:
                _, err = self.process.communicate(timeout=10)
                raise AssertionError(f"worker ended before {wanted!r}: {err}")
            self.lines.append((time.monotonic(), line))
            if line.startswith("added "):
                self.added = int(line.split()[1])
                if added is not None and self.added >= added:
                    return
            if line == wanted:
                return

    def stop(self, sig: int = signal.SIGTERM) -> str:
        os.kill(self.process.pid, sig)
        out, err = self.process.communicate(timeout=30)
        if sig == signal.SIGTERM:
            assert self.process.returncode == 0, err
        return out


def meter(url: str, key: str, outbox: str, window: str, adds: int) -> Worker:
    return Worker("meter", url, key, outbox, window, str(adds), *CUSTOMERS)


def restart(url: str, key: str, outbox: str) -> str:
    done = subprocess.run(
        [sys.executable, WORKER, "flush", url, key, outbox],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def server(pacspace_server: SandboxServer) -> Iterator[SandboxServer]:
    yield pacspace_server


def test_sigterm_with_open_windows_loses_nothing(
    outbox_for: Callable[[int], str], pacspace_sandbox: Sandbox, server: SandboxServer
) -> None:
    adds, count = 200, 3
    workers = [
        meter(server.url, pacspace_sandbox.api_key, outbox_for(n), "1d", adds) for n in range(count)
    ]
    for worker in workers:
        worker.read_until("ready")
    reports = [worker.stop() for worker in workers]  # the day is still open
    assert all("lost=0" in report for report in reports), reports
    if outbox_for(0) != "-":  # what a shared outbox still holds for its other producers
        restart(server.url, pacspace_sandbox.api_key, outbox_for(count - 1))
    else:
        assert all("undelivered=0" in report for report in reports), reports
    each = Decimal(-adds * count // len(CUSTOMERS))
    assert ledger(pacspace_sandbox) == dict.fromkeys(CUSTOMERS, each)


def test_sigkill_loses_at_most_one_tick(
    shared_outbox: str, pacspace_sandbox: Sandbox, server: SandboxServer
) -> None:
    worker = meter(server.url, pacspace_sandbox.api_key, shared_outbox, "1s", 100_000)
    worker.read_until("", added=1500)
    worker.stop(signal.SIGKILL)
    (start, _), (end, _) = worker.lines[0], worker.lines[-1]
    rate = worker.added / max(end - start, 1e-3)  # adds a second, as the worker ran
    time.sleep(1.5)  # every window it wrote to has ended
    restart(server.url, pacspace_sandbox.api_key, shared_outbox)
    recorded = -sum(ledger(pacspace_sandbox).values())
    lost = worker.added - recorded
    tick = rate * 0.1  # journalIntervalMs is 100 in the worker
    print(
        f"SIGKILL: {worker.added} adds seen, {recorded} recorded, {lost} lost; one tick ~{tick:.0f}"
    )
    assert recorded <= worker.added + 10, "counted twice"  # +10: the batch after the last line
    assert lost <= 1.5 * tick + 10, f"lost {lost} adds, more than one tick ({tick:.0f})"


def test_usage_kept_while_the_service_is_down_is_sent_after_a_restart(
    shared_outbox: str, pacspace_sandbox: Sandbox, server: SandboxServer
) -> None:
    port = int(server.url.rsplit(":", 1)[1])
    with DroppingProxy(port, lambda n, head: False) as proxy:
        url = f"http://127.0.0.1:{proxy.port}"
        workers = [meter(url, pacspace_sandbox.api_key, shared_outbox, "1d", 100) for _ in range(2)]
        for worker in workers:
            worker.read_until("ready")
        proxy.down = True  # the service is unreachable at shutdown
        reports = [worker.stop() for worker in workers]
        assert all("lost=0" in r and "undelivered=0" not in r for r in reports), reports
        assert ledger(pacspace_sandbox) == {}
        if not shared_outbox.startswith("postgresql"):
            poison(shared_outbox)
        proxy.down = False
        restart(url, pacspace_sandbox.api_key, shared_outbox)
    assert ledger(pacspace_sandbox) == dict.fromkeys(CUSTOMERS, Decimal(-100))


def poison(path: str) -> None:
    """A row nobody can read: it must move aside without blocking the others."""
    with sqlite3.connect(path) as db:
        db.execute(
            "INSERT INTO pacspace_summaries (owner, state, customer_id, reason, window_start,"
            " window_end, delta, reference_id) SELECT owner, 'pending', 'a', 'x', window_start,"
            " window_end, 'NaN-ish', 'sum_poison' FROM pacspace_summaries LIMIT 1"
        )
