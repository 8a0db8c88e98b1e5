"""The multiplexed waiter: one watcher for all waits, learning, caps, deadlines, webhooks."""

from __future__ import annotations

import asyncio
import builtins
import json
import time

import httpx
import pytest
import respx

import pacspace_async as ps
from pacspace_async import PacSpace
from pacspace_async._waiter import Waiter
from pacspace_async.types import RecordStatus

from .conftest import BASE, KEY, envelope


class FakeServer:
    """Records verify ``latency`` seconds after they are first seen."""

    def __init__(self, latency: float, outcome: str = "VERIFIED") -> None:
        self.latency = latency
        self.outcome = outcome
        self.born: dict[str, float] = {}
        self.calls = 0
        self.in_flight = 0
        self.peak = 0

    def register(self, record_id: str) -> None:
        self.born[record_id] = time.monotonic()

    async def fetch(self, record_id: str) -> RecordStatus:
        self.calls += 1
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        await asyncio.sleep(0.001)
        self.in_flight -= 1
        done = time.monotonic() - self.born[record_id] >= self.latency
        return RecordStatus(record_id=record_id, status=self.outcome if done else "PROCESSING")


async def test_many_waits_share_one_watcher_and_few_requests() -> None:
    server = FakeServer(latency=0.2)
    waiter = Waiter(server.fetch, first_check=0.2)
    ids = [f"r{i}" for i in range(200)]
    for record_id in ids:
        server.register(record_id)
    started = time.monotonic()
    results = await asyncio.gather(
        *(waiter.wait(r, timeout=5, poll_interval=1, started=started) for r in ids)
    )
    assert {r.status for r in results} == {"VERIFIED"}
    assert server.calls / len(ids) <= 2.0
    assert waiter.pending == 0
    assert server.peak <= 32


async def test_failed_resolves_as_well() -> None:
    server = FakeServer(latency=0.0, outcome="FAILED")
    server.register("r1")
    waiter = Waiter(server.fetch, first_check=0.01)
    assert (await waiter.wait("r1", timeout=1, poll_interval=0.1)).status == "FAILED"


async def test_timeout_raises_and_forgets_the_record() -> None:
    server = FakeServer(latency=60)
    server.register("r1")
    waiter = Waiter(server.fetch, first_check=0.01)
    with pytest.raises(ps.TimeoutError) as caught:
        await waiter.wait("r1", timeout=0.2, poll_interval=0.05)
    assert isinstance(caught.value, builtins.TimeoutError) and caught.value.code == "TIMEOUT"
    assert waiter.pending == 0
    calls = server.calls
    await asyncio.sleep(0.15)
    assert server.calls == calls  # nothing keeps polling a record nobody waits for


async def test_two_waits_on_one_record_share_checks() -> None:
    server = FakeServer(latency=0.1)
    server.register("r1")
    waiter = Waiter(server.fetch, first_check=0.1)
    a, b = await asyncio.gather(
        waiter.wait("r1", timeout=2, poll_interval=0.5),
        waiter.wait("r1", timeout=2, poll_interval=0.5),
    )
    assert a is b and server.calls <= 2


async def test_learns_the_verification_time() -> None:
    server = FakeServer(latency=0.3)
    waiter = Waiter(server.fetch, first_check=0.05)
    for i in range(8):
        server.register(f"r{i}")
        await waiter.wait(f"r{i}", timeout=3, poll_interval=0.2)
    first, _ = waiter.estimate()
    assert 0.2 <= first <= 0.45


async def test_non_retryable_errors_fail_the_wait() -> None:
    async def fetch(record_id: str) -> RecordStatus:
        raise ps.InvalidApiKeyError("bad key", 401)

    waiter = Waiter(fetch, first_check=0.01)
    with pytest.raises(ps.InvalidApiKeyError):
        await waiter.wait("r1", timeout=1, poll_interval=0.1)


async def test_transient_errors_are_checked_again() -> None:
    attempts = 0

    async def fetch(record_id: str) -> RecordStatus:
        nonlocal attempts
        attempts += 1
        if attempts < 3:
            raise ps.APIConnectionError("dropped")
        return RecordStatus(record_id=record_id, status="VERIFIED")

    waiter = Waiter(fetch, first_check=0.01)
    assert (await waiter.wait("r1", timeout=2, poll_interval=0.05)).status == "VERIFIED"
    assert attempts == 3


async def test_resolve_ends_the_wait_at_once() -> None:
    server = FakeServer(latency=60)
    server.register("r1")
    waiter = Waiter(server.fetch, first_check=0.5)
    task = asyncio.create_task(waiter.wait("r1", timeout=5, poll_interval=1))
    await asyncio.sleep(0.05)
    assert waiter.resolve("r1", RecordStatus(record_id="r1", status="VERIFIED"))
    assert (await task).status == "VERIFIED"
    assert server.calls == 0
    # A wait that starts after the news is answered from memory.
    assert (await waiter.wait("r1", timeout=1, poll_interval=1)).status == "VERIFIED"


async def test_a_verified_webhook_resolves_emit_and_wait_without_polling() -> None:
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        router.post("/api/v1/balance/delta").respond(
            201, json=envelope({"recordId": "r_9", "status": "QUEUED"})
        )
        status_route = router.get("/api/v1/balance/delta/r_9").respond(
            200, json=envelope({"recordId": "r_9", "status": "PROCESSING"})
        )
        async with PacSpace(KEY, base_url=BASE, webhook_secret="whsec_test") as pac:
            assert pac.webhooks is not None
            task = asyncio.create_task(pac.balance.emit_and_wait("c", 1, "r", timeout=10))
            await asyncio.sleep(0.05)
            payload = {
                "event": "delta.verified",
                "id": "evt_1",
                "data": {"recordId": "r_9", "receiptId": "rcpt_9", "status": "verified"},
            }
            headers, body = pac.webhooks.sign(payload)
            event = pac.webhooks.verify_from_headers(headers, body)
            assert event["data"]["receiptId"] == "rcpt_9"
            result = await asyncio.wait_for(task, 1)
            assert result.status == "VERIFIED" and result.record_id == "r_9"
            assert status_route.call_count == 0


async def test_emit_and_wait_polls_until_verified_with_the_seed_options() -> None:
    answers = iter(["QUEUED", "PROCESSING", "VERIFIED"])
    with respx.mock(base_url=BASE) as router:
        router.post("/api/v1/balance/delta").respond(
            201, json=envelope({"recordId": "r_1", "status": "QUEUED"})
        )
        route = router.get("/api/v1/balance/delta/r_1").mock(
            side_effect=lambda request: httpx.Response(
                200, json=envelope({"recordId": "r_1", "status": next(answers)})
            )
        )
        async with PacSpace(KEY, base_url=BASE) as pac:
            pac.balance._waiter._default_first = 0.01
            result = await pac.balance.emit_and_wait(
                "c", -42.5, "r", {"timeout": 5_000, "pollInterval": 50}
            )
        assert result.status == "VERIFIED" and route.call_count == 3
        assert json.loads(router.calls[0].request.content)["delta"] == -42.5


async def test_with_deliveries_flowing_polling_becomes_a_fallback() -> None:
    server = FakeServer(latency=60)
    waiter = Waiter(server.fetch, first_check=0.1)
    server.register("r0")
    waiter.resolve("r0", RecordStatus(record_id="r0", status="VERIFIED"))  # a delivery arrived
    assert waiter.feeding()
    tasks = []
    for i in range(1, 6):
        server.register(f"r{i}")
        tasks.append(asyncio.create_task(waiter.wait(f"r{i}", timeout=5, poll_interval=1)))
    await asyncio.sleep(0.3)  # past the first check it would otherwise make
    for i in range(1, 6):
        waiter.resolve(f"r{i}", RecordStatus(record_id=f"r{i}", status="VERIFIED"))
    assert [t.status for t in await asyncio.gather(*tasks)] == ["VERIFIED"] * 5
    assert server.calls == 0


async def test_a_feed_that_starts_pushes_pending_checks_back() -> None:
    server = FakeServer(latency=60)
    waiter = Waiter(server.fetch, first_check=0.2)
    for i in range(3):
        server.register(f"r{i}")
    tasks = [
        asyncio.create_task(waiter.wait(f"r{i}", timeout=5, poll_interval=1)) for i in range(3)
    ]
    await asyncio.sleep(0.05)
    waiter.resolve("r0", RecordStatus(record_id="r0", status="VERIFIED"))
    await asyncio.sleep(0.4)  # the 0.2 s checks were pushed back to the fallback
    assert server.calls == 0
    for i in (1, 2):
        waiter.resolve(f"r{i}", RecordStatus(record_id=f"r{i}", status="VERIFIED"))
    await asyncio.gather(*tasks)


async def test_a_cold_burst_is_scouted_not_polled_on_a_guess() -> None:
    """With nothing learnt, a burst of waits must not all poll on the default guess: a few
    scouts learn the verification time and the rest are checked once it is known."""
    import random

    rng = random.Random(7)
    latency = {f"r{i}": rng.uniform(0.25, 0.35) for i in range(300)}
    calls = 0

    async def fetch(record_id: str) -> RecordStatus:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.001)
        done = time.monotonic() - started >= latency[record_id]
        return RecordStatus(record_id=record_id, status="VERIFIED" if done else "PROCESSING")

    waiter = Waiter(fetch, first_check=0.2)  # the default guess is too early
    started = time.monotonic()
    await asyncio.gather(
        *(waiter.wait(r, timeout=5, poll_interval=1, started=started) for r in latency)
    )
    assert calls / len(latency) <= 1.5
