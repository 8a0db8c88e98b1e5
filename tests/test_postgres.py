"""The PostgreSQL outbox, against a real PostgreSQL server (see ``postgres_url``)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from decimal import Decimal

import psycopg
import pytest

import pacspace_async as ps
from pacspace_async import PacSpace
from pacspace_sandbox import Sandbox, SandboxServer
from tests._clients import blocking_on_outbox

DAY = 1_779_840_010.0  # 2026-05-27: a window that has long ended


@pytest.fixture
def make(client_factory: Callable[..., PacSpace], postgres_url: str) -> Callable[..., PacSpace]:
    """Clients on the in-process sandbox, with this test's PostgreSQL outbox."""
    return lambda **submission: client_factory(outbox=postgres_url, autoStart=False, **submission)


def ledger(sandbox: Sandbox) -> tuple[int, Decimal]:
    rows = sandbox.ledger.store.all("SELECT amount, reference_id FROM deltas")
    assert len({r["reference_id"] for r in rows}) == len(rows)  # never one id twice
    return len(rows), sum((Decimal(r["amount"]) for r in rows), Decimal(0))


def usage_rows(url: str) -> int:
    with psycopg.connect(url) as connection:
        row = connection.execute("SELECT COUNT(*) FROM pacspace_usage").fetchone()
        return int(row[0]) if row else 0


async def test_queue_summary_and_flush_as_with_sqlite(
    make: Callable[..., PacSpace], pacspace_sandbox: Sandbox
) -> None:
    one, two = make(), make()
    window = {"windowStart": "2026-05-27T00:00:00Z", "windowEnd": "2026-05-28T00:00:00Z"}
    for pac in (one, two):  # two producers, equal totals, two reasons
        pac.balance.queue_summary({"customerId": "c", "delta": -5, **window})
        pac.balance.queue_summary({"customerId": "c", "delta": -5, "reason": "b", **window})
    one.balance.queue_summary({"customerId": "c", "delta": "-5.5", **window})  # replaces
    result = await one.balance.flush_summaries()
    assert result.accepted == 4 and result.queued_after_flush == 0
    assert ledger(pacspace_sandbox) == (4, Decimal("-20.5"))


async def test_record_is_sent_only_if_the_callers_transaction_commits(
    make: Callable[..., PacSpace], pacspace_sandbox: Sandbox, postgres_url: str
) -> None:
    pac = make()
    meter = pac.balance.meter()
    meter._clock = lambda: DAY  # type: ignore[method-assign]
    async with await psycopg.AsyncConnection.connect(postgres_url) as connection:
        async with connection.transaction():
            await meter.record(connection, "c", "-1.25")
            await meter.record(connection, "c", -2, reason="storage")
        with pytest.raises(RuntimeError):
            async with connection.transaction():
                await meter.record(connection, "c", -100)
                raise RuntimeError("the caller's work failed")
    assert usage_rows(postgres_url) == 2
    result = await pac.balance.flush_summaries()
    assert result.accepted == 2
    assert ledger(pacspace_sandbox) == (2, Decimal("-3.25"))


def test_blocking_record_takes_a_psycopg_connection(
    pacspace_sandbox: Sandbox, pacspace_server: SandboxServer, postgres_url: str
) -> None:
    with blocking_on_outbox(pacspace_sandbox, pacspace_server, postgres_url) as pac:
        meter = pac.balance.meter()
        meter._clock = lambda: DAY  # type: ignore[method-assign]
        with psycopg.connect(postgres_url) as connection:
            meter.record(connection, "c", -3)
            connection.rollback()
            meter.record(connection, "c", -4)
            connection.commit()
        assert pac.balance.flush_summaries().accepted == 1
    assert ledger(pacspace_sandbox) == (1, Decimal(-4))


async def test_record_needs_a_postgres_outbox(pacspace_client: PacSpace, postgres_url: str) -> None:
    meter = pacspace_client.balance.meter()
    with pytest.raises(ps.PacSpaceError) as caught:
        async with await psycopg.AsyncConnection.connect(postgres_url) as connection:
            await meter.record(connection, "c", -1)
    assert caught.value.code == "OUTBOX_REQUIRED"


async def test_drain_sends_one_summary_per_aggregate_of_the_whole_fleet(
    make: Callable[..., PacSpace], pacspace_sandbox: Sandbox, postgres_url: str
) -> None:
    workers = [make() for _ in range(4)]
    async with await psycopg.AsyncConnection.connect(postgres_url) as connection:
        for n, pac in enumerate(workers):  # four pods, each recording and metering
            meter = pac.balance.meter()
            meter._clock = lambda: DAY  # type: ignore[method-assign]
            for customer in ("a", "b"):
                async with connection.transaction():
                    for _ in range(25):
                        await meter.record(connection, customer, -1)
                meter.add(customer, -n)
            await asyncio.to_thread(pac._summaries.journal)  # a tick: journal, send nothing
    assert ledger(pacspace_sandbox) == (0, 0)
    drainer = make()
    result = await drainer.balance.flush_summaries()
    assert (result.accepted, result.request_count) == (2, 1)  # one summary per customer
    assert ledger(pacspace_sandbox) == (2, Decimal(-2 * (100 + 0 + 1 + 2 + 3)))
    assert usage_rows(postgres_url) == 0


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pacspace_cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def test_outbox_init_creates_the_tables_and_prints_the_sql(postgres_url: str) -> None:
    printed = run_cli("outbox", "init", "--outbox", postgres_url, "--sql")
    assert printed.returncode == 0 and "CREATE TABLE IF NOT EXISTS pacspace_usage" in printed.stdout
    created = run_cli("outbox", "init", "--outbox", postgres_url)
    assert created.returncode == 0, created.stderr
    assert usage_rows(postgres_url) == 0  # the table exists now


def test_a_drainer_killed_mid_batch_loses_nothing_and_doubles_nothing(
    pacspace_sandbox: Sandbox, pacspace_server: SandboxServer, postgres_url: str
) -> None:
    total = 120
    with psycopg.connect(postgres_url) as connection:
        store_ready = PacSpace(
            pacspace_sandbox.api_key,
            base_url=pacspace_server.url,
            submission={"outbox": postgres_url, "autoStart": False, "autoFlushOnShutdown": False},
        )
        meter = store_ready.balance.meter()
        meter._clock = lambda: DAY  # type: ignore[method-assign]
        for i in range(total):
            meter.record(connection, f"cust_{i}", -1 - i)
        connection.commit()
    asyncio.run(store_ready.aclose())
    env = {"PACSPACE_API_KEY": pacspace_sandbox.api_key}
    command = [
        sys.executable,
        "-m",
        "pacspace_cli",
        "drain",
        "--outbox",
        postgres_url,
        "--base-url",
        pacspace_server.url,
        "--max-requests-per-minute",
        "120",  # 0.5 s between its two batches: the kill lands between them
    ]
    drainer = subprocess.Popen(
        command, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 60
    while ledger(pacspace_sandbox)[0] < 30 and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(drainer.pid, signal.SIGKILL)
    drainer.wait(10)
    sent = ledger(pacspace_sandbox)[0]
    assert 0 < sent < total, "the kill must land mid-drain"
    done = run_cli(*command[3:], "--once", env=env)
    assert done.returncode == 0, done.stderr
    assert ledger(pacspace_sandbox) == (total, Decimal(-sum(range(1, total + 1))))


def test_an_unreachable_database_is_an_outbox_error_without_its_password() -> None:
    pac = PacSpace(
        "pk_test_a.b",
        base_url="http://127.0.0.1:9",
        submission={
            "outbox": "postgresql://app:hunter2secret@127.0.0.1:9/usage?connect_timeout=1",
            "autoStart": False,
            "autoFlushOnShutdown": False,
        },
    )
    with pytest.raises(ps.OutboxError) as caught:
        pac.balance.queue_summary({"customerId": "c", "delta": -1})
    message = str(caught.value)
    assert "postgresql://app@127.0.0.1:9/usage" in message and "hunter2secret" not in message
    assert "hunter2secret" not in repr(caught.value) and "hunter2" not in str(pac)


def test_retry_dead_moves_the_named_dead_letters_then_the_rest(postgres_url: str) -> None:
    """``retry_dead(ids)`` moves exactly those; ``retry_dead()`` every one that can be
    sent; a dead letter without a ``referenceId`` (a row the database refused) never."""
    from pacspace_async.summaries._stores._postgres import PostgresStore

    store = PostgresStore(postgres_url, "owner_retry_dead")
    store.ensure_ready()
    with psycopg.connect(postgres_url, autocommit=True) as db:
        ids = [
            db.execute(
                "INSERT INTO pacspace_summaries (owner, state, customer_id, reason, window_start,"
                " window_end, delta, queued_at, reference_id) VALUES (%s, 'dead', 'c', 'usage',"
                " '2026-01-01', '2026-01-02', 1, '2026-01-01', %s) RETURNING id",
                ("owner_retry_dead", reference),
            ).fetchone()[0]  # type: ignore[index]
            for reference in ("ref_a", "ref_b", "ref_c", None)
        ]
    try:
        assert store.retry_dead([ids[0]]) == 1
        assert store.dead_count() == 3
        assert store.retry_dead() == 2
        assert store.dead_count() == 1  # the one with no referenceId stays dead
        assert store.retry_dead([ids[3]]) == 0
    finally:
        store.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX-only")
def test_a_fork_between_opening_the_pool_and_reading_the_scope(postgres_url: str) -> None:
    """gunicorn --preload forked a worker after the master's outbox opened its pool but
    before it read the scope: the worker's first ``meter.record`` then used the master's
    pool, whose workers do not exist in the child, and failed after 10 s ("no connection
    within 10 s"). The child opens its own pool instead."""
    from pacspace_async.summaries._stores._postgres import PostgresStore

    store = PostgresStore(postgres_url, "owner_fork_window")
    store.ensure_ready()
    store.scope = ""  # the parent forked before it read the scope...
    assert store._pool is not None
    busy = store._pool.getconn()  # ...while its pool's connection was in use
    pid = os.fork()
    if pid == 0:  # the child: ready in well under the pool's 10 s timeout, or a failure
        code = 1
        try:
            started = time.monotonic()
            store.ensure_ready()
            code = 0 if store.scope and time.monotonic() - started < 5 else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    store._pool.putconn(busy)
    store.close()
    assert os.waitstatus_to_exitcode(status) == 0
