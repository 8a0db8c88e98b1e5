"""Celery prefork: four pool processes forked from a main process that built the blocking
client at import; tasks meter usage and emit deltas; the worker stops with a warm shutdown
(SIGTERM). The ledger holds exactly what the tasks metered and emitted, nothing of the
main process's twice."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest

from pacspace_sandbox import Sandbox, SandboxServer
from tests._ledger import ledger

from ._servers import PYTHON, ROOT, free_port, require, send_what_was_kept

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="prefork is POSIX-only")

TASKS = 120
AMOUNTS = ("-1", "-0.5", "-0.25")


@pytest.fixture
def redis_url(tmp_path: Path) -> object:
    server = shutil.which("redis-server")
    if server is None:
        reason = "needs Debian's redis-server (apt-get install redis-server)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(reason)
        pytest.skip(reason)
    port = free_port()
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    import redis

    client = redis.Redis(port=port)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                process.kill()
                raise
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    process.terminate()
    process.wait(timeout=10)


def test_prefork_workers_and_warm_shutdown_keep_the_ledger_exact(
    redis_url: str, pacspace_sandbox: Sandbox, pacspace_server: SandboxServer, tmp_path: Path
) -> None:
    require("celery", "redis")
    from celery import Celery

    outbox = tmp_path / "outbox.sqlite3"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PACSPACE_API_KEY": pacspace_sandbox.api_key,
        "PACSPACE_API_BASE_URL": pacspace_server.url,
        "PACSPACE_TEST_OUTBOX": str(outbox),
        "PACSPACE_TEST_BROKER": redis_url,
    }
    log = (tmp_path / "celery.log").open("w")
    worker = subprocess.Popen(
        [PYTHON, "-m", "celery", "-A", "tests.stacks.apps.celery_meter", "worker",
         "-P", "prefork", "-c", "4", "--loglevel", "WARNING", "--without-gossip",
         "--without-mingle", "--without-heartbeat"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    caller = Celery("caller", broker=redis_url, backend=redis_url)
    expected: dict[str, Decimal] = {"warm-up": Decimal(-1)}
    try:
        results = []
        for n in range(TASKS):
            customer, amount = f"c{n % 4}", AMOUNTS[n % 3]
            expected[customer] = expected.get(customer, Decimal(0)) + Decimal(amount)
            if n % 3 == 0:
                args = [customer, amount, "tasks", f"task-{n}"]
                results.append(("emit", caller.send_task("meter.emit", args=args)))
            else:
                args = [customer, amount, "compute" if n % 2 else "storage"]
                results.append(("add", caller.send_task("meter.add", args=args)))
        answers = [(kind, result.get(timeout=60)) for kind, result in results]
        pids = {answer for kind, answer in answers if kind == "add"}
        assert len(pids) > 1, "the tasks ran in one pool process only"
    finally:
        worker.send_signal(signal.SIGTERM)  # warm shutdown
        try:
            worker.wait(timeout=60)
        finally:
            log.close()
            caller.close()
    printed = (tmp_path / "celery.log").read_text()
    assert worker.returncode == 0 and "Traceback" not in printed, printed
    send_what_was_kept(pacspace_sandbox, pacspace_server, outbox)
    assert ledger(pacspace_sandbox) == expected
