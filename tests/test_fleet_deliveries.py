"""Verified deliveries shared by the clients of one PostgreSQL outbox (LISTEN/NOTIFY): a
delivery verified by one client ends the waits of another at once, without polling;
clients of another owner hear nothing; memory and SQLite clients have no channel; with
the channel down, waits end by polling."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from pacspace_async import PacSpace
from pacspace_sandbox import IN_PROCESS_URL, Sandbox, SandboxConfig
from pacspace_sandbox._config import new_api_key

from ._clients import in_process_clients

SECRET = "whsec_fleet"

pytest.importorskip("psycopg")


@pytest.fixture
def slow_sandbox() -> Sandbox:
    return Sandbox(
        SandboxConfig(verify_latency=30.0, seed=5, api_keys=[new_api_key(), new_api_key()])
    )


@pytest.fixture
async def clients(
    slow_sandbox: Sandbox, postgres_url: str
) -> AsyncIterator[Callable[..., PacSpace]]:
    """``clients(outbox=postgres_url, key=None)``: clients with the webhook secret."""
    async with in_process_clients(slow_sandbox) as make:

        def on(outbox: str | None = postgres_url, key: str | None = None) -> PacSpace:
            submission = {} if outbox is None else {"outbox": outbox}
            return make(key, webhook_secret=SECRET, submission=submission)

        yield on


def waiting_on(waiter: PacSpace, record_id: str, results: list[Any]) -> Callable[[], Any]:
    """A task that waits for ``record_id`` and appends the status to ``results``."""

    async def wait() -> None:
        results.append(await waiter.balance.wait_for_verified(record_id, timeout=20))

    return wait


def delivery(pac: PacSpace, record_id: str, event: str = "delta.verified") -> tuple[Any, bytes]:
    assert pac.webhooks is not None
    return pac.webhooks.sign({"event": event, "data": {"recordId": record_id, "receiptId": "0xr"}})


async def listening(pac: PacSpace) -> None:
    assert pac._deliveries is not None
    with anyio.fail_after(10):
        while not pac._deliveries.listening:  # noqa: ASYNC110
            await anyio.sleep(0.01)  # a thread's event: nothing to await on this loop


async def test_a_delivery_verified_by_one_client_ends_anothers_wait(
    clients: Callable[..., PacSpace],
) -> None:
    receiver, waiter = clients(), clients()
    emitted = await waiter.balance.emit("cust_1", -1, "usage", reference_id="f1")
    results: list[Any] = []
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(waiting_on(waiter, emitted.record_id, results))
        await listening(waiter)
        polls = waiter._waiter.status_requests
        started = time.monotonic()
        headers, body = delivery(receiver, emitted.record_id)
        receiver.webhooks.verify_from_headers(headers, body)
    took = time.monotonic() - started
    assert results[0].status == "VERIFIED" and results[0].receipt_id == "0xr"
    assert waiter._waiter.status_requests == polls  # no poll found it: the news did
    assert took < 2.0
    assert waiter._waiter.feeding()  # deliveries flow: polling backs off, as in-process
    # A wait that starts after the news returns at once, from what the client heard.
    again = await waiter.balance.wait_for_verified(emitted.record_id, timeout=1)
    assert again.status == "VERIFIED" and waiter._waiter.status_requests == polls


async def test_another_owner_hears_nothing_and_failed_deliveries_end_waits_too(
    clients: Callable[..., PacSpace], slow_sandbox: Sandbox
) -> None:
    receiver, waiter = clients(), clients()
    stranger = clients(key=slow_sandbox.config.api_keys[1])
    emitted = await waiter.balance.emit("cust_1", -1, "usage", reference_id="f2")
    results: list[Any] = []
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(waiting_on(waiter, emitted.record_id, results))
        await listening(waiter)
        headers, body = delivery(stranger, emitted.record_id)
        stranger.webhooks.verify_from_headers(headers, body)
        assert stranger._deliveries is not None
        with anyio.fail_after(10):
            while not stranger._deliveries.published:  # noqa: ASYNC110
                await anyio.sleep(0.01)
        await anyio.sleep(0.3)
        assert not results  # another owner's channel: not heard
        headers, body = delivery(receiver, emitted.record_id, "delta.failed")
        receiver.webhooks.verify_from_headers(headers, body)
    assert results[0].status == "FAILED"


async def test_memory_and_sqlite_clients_have_no_channel(
    clients: Callable[..., PacSpace], tmp_path: Path
) -> None:
    assert clients(outbox=None)._deliveries is None
    assert clients(outbox=str(tmp_path / "o.sqlite3"))._deliveries is None


async def test_with_the_channel_down_waits_end_by_polling(postgres_url: str) -> None:
    fast = Sandbox(SandboxConfig(verify_latency=0.3, seed=5))
    async with httpx.AsyncClient(transport=fast.transport()) as http:

        def client() -> PacSpace:
            return PacSpace(
                fast.api_key,
                base_url=IN_PROCESS_URL,
                http_client=http,
                webhook_secret=SECRET,
                submission={"outbox": postgres_url},
            )

        async with client() as receiver, client() as waiter:
            assert waiter._deliveries is not None
            waiter._deliveries.close()  # the channel is down for this client
            emitted = await waiter.balance.emit("cust_1", -1, "usage", reference_id="f3")
            headers, body = delivery(receiver, emitted.record_id)
            receiver.webhooks.verify_from_headers(headers, body)  # published, not heard
            status = await waiter.balance.wait_for_verified(emitted.record_id, timeout=10)
            assert status.status == "VERIFIED" and waiter._waiter.status_requests >= 1


async def test_the_channel_reconnects_after_its_connection_is_cut(
    clients: Callable[..., PacSpace], postgres_url: str
) -> None:
    import psycopg

    receiver, waiter = clients(), clients()
    first = await waiter.balance.emit("cust_1", -1, "usage", reference_id="f4")
    second = await waiter.balance.emit("cust_1", -1, "usage", reference_id="f5")
    results: list[Any] = []
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(waiting_on(waiter, first.record_id, results))
        await listening(waiter)
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            cut = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = 'pacspace-delivery-channel'"
            ).fetchall()
        assert cut
        assert waiter._deliveries is not None
        with anyio.fail_after(10):  # down, then back (backoff starts at 0.5 s)
            while waiter._deliveries.listening:  # noqa: ASYNC110
                await anyio.sleep(0.01)
        await listening(waiter)
        headers, body = delivery(receiver, first.record_id)
        receiver.webhooks.verify_from_headers(headers, body)
    tasks_done = [r.status for r in results]
    assert tasks_done == ["VERIFIED"]
    polls = waiter._waiter.status_requests
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(waiting_on(waiter, second.record_id, results))
        await anyio.sleep(0.05)
        headers, body = delivery(receiver, second.record_id)
        receiver.webhooks.verify_from_headers(headers, body)
    assert [r.status for r in results] == ["VERIFIED", "VERIFIED"]
    assert waiter._waiter.status_requests == polls
