"""Under anyio's trio backend, everything the async client does: requests (httpx, picked
by itself; aiohttp is asyncio-only and asking for it there is a clear error), waits (the
status-check scheduler, and a webhook delivery ending them), ``emit_many`` and
``emit_stream``, the summary scheduler with meters, and closing. (The pytest fixtures
under anyio's plugin on trio: tests/test_pytest_plugin.py.)"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from decimal import Decimal

import anyio
import anyio.lowlevel
import httpx
import pytest

import pacspace_async as ps
from pacspace_async import PacSpace
from pacspace_async.types import EmitResult
from pacspace_async.webhooks import webhook_endpoint
from pacspace_sandbox import IN_PROCESS_URL, Sandbox, SandboxConfig, SandboxServer

from ._ledger import ledger

pytest.importorskip("trio")


def on_trio(main: object) -> None:
    anyio.run(main, backend="trio")  # type: ignore[arg-type]


def test_calls_and_close_on_trio(pacspace_sandbox: Sandbox, pacspace_server: SandboxServer) -> None:
    async def main() -> None:
        pac = PacSpace(pacspace_sandbox.api_key, base_url=pacspace_server.url)
        assert pac._transport._backend.__class__.__name__ == "HttpxBackend"
        emitted = await pac.balance.emit("cust_trio", "-1.25", "usage", reference_id="t1")
        assert emitted.record_id
        pac.balance.queue_summary({"customerId": "cust_trio", "delta": -2})
        derived = await pac.balance.derive("cust_trio")
        assert isinstance(derived.computed_balance, Decimal)
        report = await pac.aclose()  # delivers the queued summary, on trio
        assert report.lost == 0 and report.flushed is not None and report.flushed.accepted == 1

    on_trio(main)


def test_aiohttp_on_trio_is_a_clear_error(
    pacspace_sandbox: Sandbox, pacspace_server: SandboxServer
) -> None:
    built_outside = PacSpace(
        pacspace_sandbox.api_key, base_url=pacspace_server.url, http_backend="aiohttp"
    )

    async def main() -> None:
        with pytest.raises(ps.ValidationError) as caught:
            PacSpace(pacspace_sandbox.api_key, base_url=pacspace_server.url, http_backend="aiohttp")
        assert caught.value.field == "http_backend" and "httpx" in caught.value.message
        with pytest.raises(ps.ValidationError) as caught:
            await built_outside.balance.emit("c", -1, "usage", max_retries=0)
        assert caught.value.field == "http_backend"

    on_trio(main)
    anyio.run(built_outside.aclose)


def in_process(sandbox: Sandbox, **options: object) -> tuple[PacSpace, httpx.AsyncClient]:
    http = httpx.AsyncClient(transport=sandbox.transport())
    pac = PacSpace(sandbox.api_key, base_url=IN_PROCESS_URL, http_client=http, **options)  # type: ignore[arg-type]
    return pac, http


def test_waits_on_trio_share_one_scheduler_and_end_at_verification() -> None:
    sandbox = Sandbox(SandboxConfig(verify_latency=0.3, seed=3))
    statuses: list[str] = []

    async def main() -> None:
        pac, http = in_process(sandbox)

        async def one(i: int) -> None:
            status = await pac.balance.emit_and_wait(
                f"cust_{i % 3}", -1, "usage", reference_id=f"w{i}", timeout=10
            )
            statuses.append(status.status)

        async with anyio.create_task_group() as waits:
            for i in range(40):
                waits.start_soon(one, i)
        assert pac._waiter.pending == 0
        # One scheduler spaced the checks: far fewer than a loop per record would send.
        assert pac._waiter.status_requests <= 3 * 40
        with pytest.raises(ps.TimeoutError):
            await pac.balance.wait_for_verified(
                (await pac.balance.emit("cust_0", -1, "usage", reference_id="late")).record_id,
                timeout=0.05,
            )
        await pac.aclose()
        await http.aclose()

    on_trio(main)
    assert statuses == ["VERIFIED"] * 40
    assert ledger(sandbox) == {
        "cust_0": Decimal(-15),
        "cust_1": Decimal(-13),
        "cust_2": Decimal(-13),
    }


def test_a_verified_delivery_ends_a_wait_on_trio_without_a_poll() -> None:
    sandbox = Sandbox(SandboxConfig(verify_latency=30.0, seed=3))
    secret = "whsec_trio_test"

    async def main() -> None:
        pac, http = in_process(sandbox, webhook_secret=secret)
        assert pac.webhooks is not None
        hooks = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=webhook_endpoint(pac.webhooks)), base_url="http://h"
        )
        emitted = await pac.balance.emit("cust_1", -1, "usage")
        status: list[ps.RecordStatus] = []

        async def wait() -> None:
            status.append(await pac.balance.wait_for_verified(emitted.record_id, timeout=10))

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(wait)
            await anyio.sleep(0.05)
            polls = pac._waiter.status_requests
            headers, body = pac.webhooks.sign(
                {"event": "delta.verified", "data": {"recordId": emitted.record_id}}
            )
            assert (await hooks.post("/", content=body, headers=headers)).status_code == 204
        assert status[0].status == "VERIFIED" and pac._waiter.status_requests == polls
        await hooks.aclose()
        await pac.aclose()
        await http.aclose()

    on_trio(main)


def test_emit_many_and_emit_stream_on_trio() -> None:
    sandbox = Sandbox(SandboxConfig(verify_latency=0.0, seed=3))

    async def main() -> None:
        pac, http = in_process(sandbox)
        items = [
            {"customerId": f"cust_{i % 4}", "delta": -1, "reason": "usage", "referenceId": f"m{i}"}
            for i in range(60)
        ]
        items[7] = {"customerId": "", "delta": -1, "reason": "usage"}
        results = await pac.balance.emit_many(items, concurrency=8)
        assert isinstance(results[7], ps.ValidationError)
        assert all(isinstance(r, EmitResult) for i, r in enumerate(results) if i != 7)
        with pytest.raises(ps.ValidationError):
            await pac.balance.emit_many(items[:20], concurrency=8, return_exceptions=False)

        async def source() -> AsyncIterator[dict[str, object]]:
            for i in range(1000):
                yield {
                    "customerId": "cust_stream",
                    "delta": -1,
                    "reason": "usage",
                    "referenceId": f"s{i}",
                }
                await anyio.lowlevel.checkpoint()

        taken = 0
        async with contextlib.aclosing(
            pac.balance.emit_stream(source(), concurrency=4)
        ) as results_:
            async for result in results_:
                assert isinstance(result, EmitResult)
                taken += 1
                if taken == 20:
                    break  # closing stops the workers in flight
        await pac.aclose()
        await http.aclose()

    on_trio(main)
    book = ledger(sandbox)
    # The stream stopped within its window (2 x concurrency) past the 20 taken.
    assert book["cust_stream"] <= Decimal(-20) and book["cust_stream"] >= Decimal(-28)


def test_summary_scheduler_and_meters_on_trio() -> None:
    sandbox = Sandbox(SandboxConfig(verify_latency=0.0, seed=3))

    async def main() -> None:
        pac, http = in_process(
            sandbox,
            submission={"profile": "immediate", "enterprise": True, "journalIntervalMs": 20},
        )
        pac.balance.queue_summary({"customerId": "cust_q", "delta": -3})
        with anyio.fail_after(5):
            while not sandbox.ledger.store.all("SELECT * FROM deltas"):  # noqa: ASYNC110
                await anyio.sleep(0.01)  # the sandbox's ledger has no event to wait on
        assert pac.balance.get_summary_queue_state().is_running
        meter = pac.balance.meter("1h", "api_calls")
        for _ in range(10):
            meter.add("cust_m", "-0.5")
        pac.balance.stop_summary_scheduler()
        report = await pac.aclose()  # seals and delivers the meter's window
        assert report.lost == 0
        await http.aclose()

    on_trio(main)
    assert ledger(sandbox, "customer_id", "reason")[("cust_m", "api_calls")] == Decimal("-5.0")


def test_sandbox_webhooks_under_trio_stay_pending_and_say_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sandbox = Sandbox(
        SandboxConfig(
            verify_latency=0.0,
            seed=3,
            webhook_url="http://127.0.0.1:9/hooks",
            webhook_secret="whsec_trio_test",
        )
    )

    async def main() -> None:
        pac, http = in_process(sandbox)
        for i in range(3):
            await pac.balance.emit("cust_1", -1, "usage", reference_id=f"h{i}")
        await pac.aclose()
        await http.aclose()

    with caplog.at_level("WARNING", logger="pacspace.sandbox"):
        on_trio(main)
    warned = [r for r in caplog.records if "under trio" in r.getMessage()]
    assert len(warned) == 1
    pending = sandbox.ledger.store.scalar(
        "SELECT COUNT(*) FROM webhook_events WHERE status = 'pending'"
    )
    assert pending == 3
