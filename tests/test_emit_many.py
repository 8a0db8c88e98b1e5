"""Many emits at once: order, isolation of failures, bounded concurrency, flat memory."""

from __future__ import annotations

import asyncio
import tracemalloc
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

import pacspace_async as ps
import pacspace_sync
from pacspace_async import PacSpace
from pacspace_sandbox import Sandbox, SandboxServer


def counting_client(
    delay: float = 0.0, fail_on: str | None = None
) -> tuple[PacSpace, dict[str, int]]:
    stats = {"in_flight": 0, "peak": 0, "calls": 0}

    async def handler(request: httpx.Request) -> httpx.Response:
        import json

        body = json.loads(request.content)
        stats["calls"] += 1
        stats["in_flight"] += 1
        stats["peak"] = max(stats["peak"], stats["in_flight"])
        await asyncio.sleep(delay)
        stats["in_flight"] -= 1
        if body["customerId"] == fail_on:
            return httpx.Response(
                400, json={"error": {"code": "VALIDATION_ERROR", "message": "no"}}
            )
        return httpx.Response(
            201,
            json={"success": True, "data": {"recordId": f"r_{body['reason']}", "status": "QUEUED"}},
        )

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return PacSpace("pk_test_a.b", base_url="https://api.test", http_client=http), stats


async def test_results_in_input_order_and_failures_isolated() -> None:
    pac, stats = counting_client(delay=0.01, fail_on="bad")
    items: list[Any] = [
        {"customerId": "c", "delta": -1, "reason": str(i)}
        if i % 5
        else {"customer_id": "bad", "delta": 1, "reason": str(i)}
        for i in range(40)
    ]
    items.append(
        {"customerId": "c", "delta": float("nan"), "reason": "40"}
    )  # refused before sending
    results = await pac.balance.emit_many(items, concurrency=8)
    assert len(results) == 41
    for i, result in enumerate(results[:40]):
        if i % 5:
            assert isinstance(result, ps.types.EmitResult) and result.record_id == f"r_{i}"
        else:
            assert isinstance(result, ps.ValidationError)
    assert isinstance(results[40], ps.ValidationError) and results[40].field == "delta"
    assert stats["calls"] == 40 and stats["peak"] <= 8
    await pac.aclose()


async def test_return_exceptions_false_raises_the_first_failure() -> None:
    pac, _ = counting_client(fail_on="bad")
    with pytest.raises(ps.ValidationError):
        await pac.balance.emit_many(
            [
                {"customerId": "c", "delta": 1, "reason": "0"},
                {"customerId": "bad", "delta": 1, "reason": "1"},
            ],
            return_exceptions=False,
        )
    await pac.aclose()


async def test_each_item_keeps_its_own_idempotency_key() -> None:
    keys: list[str] = []
    attempts: dict[str, int] = {}

    async def handler(request: httpx.Request) -> httpx.Response:
        key = request.headers["idempotency-key"]
        keys.append(key)
        attempts[key] = attempts.get(key, 0) + 1
        if attempts[key] == 1:
            raise httpx.RemoteProtocolError("dropped")
        return httpx.Response(
            201, json={"success": True, "data": {"recordId": key, "status": "QUEUED"}}
        )

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    async with PacSpace("pk_test_a.b", base_url="https://api.test", http_client=http) as pac:
        pac._transport  # noqa: B018 - the same transport serves every item
        import pacspace_async._transport as transport

        real_sleep = transport.sleep
        transport.sleep = lambda seconds: real_sleep(0)  # type: ignore[assignment]
        try:
            results = await pac.balance.emit_many(
                [{"customerId": "c", "delta": 1, "reason": str(i)} for i in range(5)]
            )
        finally:
            transport.sleep = real_sleep
    assert len(set(keys)) == 5 and all(n == 2 for n in attempts.values())
    assert {r.record_id for r in results} == set(attempts)  # type: ignore[union-attr]


async def test_a_long_stream_runs_in_flat_memory() -> None:
    from pacspace_async.resources._many import stream

    async def emit(customer_id: str, delta: Any, reason: str, **kwargs: Any) -> ps.types.EmitResult:
        await asyncio.sleep(0)
        return ps.types.EmitResult(record_id="r", status="QUEUED")

    async def items(n: int) -> AsyncIterator[dict[str, Any]]:
        for _ in range(n):
            yield {"customerId": "c", "delta": 1, "reason": "x"}

    async def drain(n: int) -> int:
        count = 0
        async for _ in stream(emit, items(n), concurrency=16, return_exceptions=True):
            count += 1
        return count

    assert await drain(500) == 500  # warm up
    tracemalloc.start()
    await drain(1_000)
    small = tracemalloc.get_traced_memory()[1]
    tracemalloc.reset_peak()
    await drain(10_000)
    large = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert large < small * 2  # ten times the items, not ten times the memory


def test_sync_twins_run_concurrently_without_threads(
    pacspace_server: SandboxServer, pacspace_sandbox: Sandbox
) -> None:
    with pacspace_sync.PacSpace(pacspace_sandbox.api_key, base_url=pacspace_server.url) as pac:
        results = pac.balance.emit_many(
            [
                {"customerId": "sync_many", "delta": 1, "reason": "r", "referenceId": f"ref{i}"}
                for i in range(50)
            ],
            concurrency=16,
        )
        assert all(isinstance(r, ps.types.EmitResult) for r in results)

        def items() -> Iterator[dict[str, Any]]:
            for _ in range(30):
                yield {"customerId": "sync_stream", "delta": 1, "reason": "r"}

        streamed = list(pac.balance.emit_stream(items(), concurrency=8))
        assert len(streamed) == 30
    store = pacspace_sandbox.ledger.store
    assert store.scalar("SELECT COUNT(*) FROM deltas WHERE customer_id = 'sync_many'") == 50
    assert store.scalar("SELECT COUNT(*) FROM deltas WHERE customer_id = 'sync_stream'") == 30


async def test_the_first_failure_in_input_order_is_raised_and_the_rest_stopped() -> None:
    """``return_exceptions=False``: item 1 fails after item 3 did; item 1's error is the
    one raised, and nothing is sent once it is known."""
    from pacspace_async.resources._many import collect

    sent: list[str] = []

    async def emit(customer_id: str, delta: Any, reason: str, **kwargs: Any) -> Any:
        sent.append(reason)
        await asyncio.sleep({"1": 0.02, "3": 0.0}.get(reason, 0.01))
        if reason in ("1", "3"):
            raise ps.ValidationError(f"refused {reason}", field="reason")
        return ps.types.EmitResult(record_id=reason, status="QUEUED")

    items = [{"customerId": "c", "delta": 1, "reason": str(i)} for i in range(50)]
    with pytest.raises(ps.ValidationError, match="refused 1") as raised:
        await collect(emit, items, concurrency=4, return_exceptions=False)
    assert raised.value.index == 1
    assert len(sent) < 50  # stopped, not run to the end


async def test_a_failing_progress_callback_stops_emit_many() -> None:
    pac, stats = counting_client(delay=0.001)
    calls: list[int] = []

    def progress(index: int, outcome: object) -> None:
        calls.append(index)
        if index == 2:
            raise RuntimeError("the progress bar broke")

    items = [{"customerId": "c", "delta": 1, "reason": str(i)} for i in range(200)]
    with pytest.raises(RuntimeError, match="progress bar"):
        await pac.balance.emit_many(items, concurrency=4, progress=progress)
    assert calls == [0, 1, 2] and stats["calls"] < 200
    await pac.aclose()


async def test_a_failing_iterable_is_raised_after_what_it_gave() -> None:
    pac, _ = counting_client()
    seen: list[int] = []

    def items() -> Iterator[dict[str, Any]]:
        for i in range(3):
            yield {"customerId": "c", "delta": 1, "reason": str(i)}
        raise OSError("the file went away")

    with pytest.raises(OSError, match="went away"):
        await pac.balance.emit_many(items(), progress=lambda i, o: seen.append(i))
    assert seen == [0, 1, 2]
    await pac.aclose()


def blocked_client() -> tuple[PacSpace, dict[str, int], asyncio.Event]:
    """A client whose emits are all held until ``started`` reaches the concurrency."""
    stats = {"started": 0, "in_flight": 0}
    started = asyncio.Event()

    async def handler(request: httpx.Request) -> httpx.Response:
        stats["started"] += 1
        stats["in_flight"] += 1
        if stats["started"] == 4:
            started.set()
        try:
            await asyncio.Event().wait()  # never answered: the caller gives up first
        finally:
            stats["in_flight"] -= 1
        raise AssertionError("unreachable")

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    client = PacSpace("pk_test_a.b", base_url="https://api.test", http_client=http, max_retries=0)
    return client, stats, started


async def test_cancelling_emit_many_stops_every_request_and_starts_no_more() -> None:
    # A service shutting down cancels its tasks: nothing may go on emitting behind it.
    pac, stats, started = blocked_client()
    items = [{"customerId": "c", "delta": -1, "reason": f"u{i}"} for i in range(100)]
    call = asyncio.ensure_future(pac.balance.emit_many(items, concurrency=4))
    await started.wait()
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    for _ in range(3):
        await asyncio.sleep(0)
    assert stats == {"started": 4, "in_flight": 0}
    await pac.aclose()


async def test_leaving_emit_stream_early_stops_every_request() -> None:
    pac, stats, started = blocked_client()
    items = ({"customerId": "c", "delta": -1, "reason": f"u{i}"} for i in range(100))
    stream = pac.balance.emit_stream(items, concurrency=4)
    pending = asyncio.ensure_future(stream.__anext__())
    await started.wait()
    pending.cancel()
    with pytest.raises(asyncio.CancelledError):
        await pending
    await stream.aclose()  # returns once the requests in flight have stopped
    assert stats == {"started": 4, "in_flight": 0}
    await pac.aclose()


def test_closing_the_blocking_stream_stops_every_request() -> None:
    stats = {"started": 0, "in_flight": 0}

    async def handler(request: httpx.Request) -> httpx.Response:
        import json

        stats["started"] += 1
        if json.loads(request.content)["reason"] == "u0":
            answer = {"success": True, "data": {"recordId": "r_0", "status": "QUEUED"}}
            return httpx.Response(201, json=answer)
        stats["in_flight"] += 1
        try:
            await asyncio.Event().wait()  # the rest are never answered
        finally:
            stats["in_flight"] -= 1
        raise AssertionError("unreachable")

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    items = ({"customerId": "c", "delta": -1, "reason": f"u{i}"} for i in range(100))
    with pacspace_sync.PacSpace(
        "pk_test_a.b", base_url="https://api.test", http_client=http
    ) as pac:
        stream = pac.balance.emit_stream(items, concurrency=4)
        first = next(stream)
        assert isinstance(first, ps.types.EmitResult) and first.record_id == "r_0"
        stream.close()  # runs on the loop thread, and returns once the workers are gone
        assert stats["in_flight"] == 0
        started = stats["started"]
        assert 1 < started <= 1 + 2 * 4  # the window, never the whole input
    assert stats["started"] == started
