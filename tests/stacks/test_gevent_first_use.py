"""Greenlets that meet the SDK's first use of a PostgreSQL outbox at once, in a process
that gevent patched after the client was built (gunicorn ``--preload -k gevent``). The
lock around the outbox's first connection was the operating system's: a greenlet
waiting on it while the holder waited for the pool to open hung the whole worker for
good (found by the gevent ORM stack test, one run in six). Every record lands, once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from decimal import Decimal

import pytest

from pacspace_sandbox import Sandbox, SandboxConfig, SandboxServer
from tests._ledger import ledger

from ._servers import require, send_what_was_kept, start_app

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="gevent workers are POSIX")


def test_greenlets_meeting_the_outboxs_first_use_all_record(
    pacspace_sandbox: Sandbox, pacspace_server: SandboxServer, postgres_url: str
) -> None:
    require("gevent", "psycopg")
    import psycopg

    with psycopg.connect(postgres_url, autocommit=True) as db:
        db.execute("CREATE TABLE orders (customer text, amount numeric)")
    process = start_app(
        "gevent_first_use",
        postgres_url,
        sandbox=pacspace_sandbox,
        server=pacspace_server,
        start_new_session=True,  # the forked worker too, to stop it if it hangs
    )
    try:
        out, err = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate()
        pytest.fail(f"the gevent worker hung:\n{out}{err}")
    assert process.returncode == 0 and out.strip() == "12", out + err
    # psycopg was imported before the patch, as under --preload: the worker is told once.
    assert err.count("PSYCOPG_WAIT_FUNC=wait_selector") == 1, err
    time.sleep(1.5)  # the one-second window ends, past the seal's grace
    send_what_was_kept(pacspace_sandbox, pacspace_server, postgres_url)
    assert ledger(pacspace_sandbox) == {"c0": Decimal(-4), "c1": Decimal(-4), "c2": Decimal(-4)}


@pytest.fixture
def pacspace_sandbox_config() -> SandboxConfig:
    return SandboxConfig(verify_latency=30.0, seed=1)  # only a delivery ends a wait in time


def test_fleet_deliveries_reach_a_gevent_process(
    pacspace_sandbox: Sandbox,
    pacspace_server: SandboxServer,
    postgres_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The delivery channel waits in libpq: in a gevent process it runs in an operating-
    system thread, so the news arrives and the process's other greenlets keep running."""
    require("gevent", "psycopg")
    monkeypatch.setenv("PACSPACE_WEBHOOK_SECRET", "whsec_gevent")
    process = start_app(
        "gevent_waits", postgres_url, sandbox=pacspace_sandbox, server=pacspace_server
    )
    out, err = process.communicate(timeout=60)
    status, seconds, ticked = out.split()
    assert status == "VERIFIED" and float(seconds) < 5 and ticked == "True", out + err
