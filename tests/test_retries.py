"""Retry rules: what is retried, how long it waits, and that a retry never records twice."""

from __future__ import annotations

import email.utils
import time

import httpx
import pytest
import respx

import pacspace_async as ps
from pacspace_async import PacSpace

from .conftest import BASE, KEY, envelope

OK = envelope({"recordId": "r_1", "status": "QUEUED"})


async def test_retry_after_seconds_is_honoured_and_the_key_reused(
    pac: PacSpace, mock_api: respx.MockRouter, no_sleep: list[float]
) -> None:
    route = mock_api.post("/api/v1/balance/delta")
    route.side_effect = [
        httpx.Response(429, json={"error": {"message": "slow"}}, headers={"Retry-After": "2"}),
        httpx.Response(503, json={}, headers={"Retry-After": "1"}),
        httpx.Response(201, json=OK),
    ]
    result = await pac.balance.emit("c", 1, "r")
    assert result.record_id == "r_1"
    assert route.call_count == 3
    assert len({call.request.headers["idempotency-key"] for call in route.calls}) == 1
    assert 2.0 in no_sleep and 1.0 in no_sleep


async def test_retry_after_http_date(
    pac: PacSpace, mock_api: respx.MockRouter, no_sleep: list[float]
) -> None:
    when = email.utils.formatdate(time.time() + 5, usegmt=True)
    route = mock_api.get("/api/v1/balance/usage")
    route.side_effect = [
        httpx.Response(429, json={}, headers={"Retry-After": when}),
        httpx.Response(200, json=envelope({})),
    ]
    await pac.balance.usage()
    assert any(3.0 < s <= 5.0 for s in no_sleep)


async def test_backoff_without_retry_after_is_exponential_with_jitter(
    pac: PacSpace, mock_api: respx.MockRouter, no_sleep: list[float]
) -> None:
    route = mock_api.get("/api/v1/balance/usage")
    route.side_effect = [
        httpx.Response(500, json={}),
        httpx.Response(502, json={}),
        httpx.Response(200, json=envelope({})),
    ]
    await pac.balance.usage()
    assert route.call_count == 3
    assert 0.375 <= no_sleep[0] <= 0.625 and 0.75 <= no_sleep[1] <= 1.25


async def test_gives_up_after_max_retries(
    pac: PacSpace, mock_api: respx.MockRouter, no_sleep: list[float]
) -> None:
    route = mock_api.get("/api/v1/balance/usage").respond(500, json={})
    with pytest.raises(ps.PacSpaceError):
        await pac.balance.usage()
    assert route.call_count == 3
    route.reset()
    with pytest.raises(ps.PacSpaceError):
        await pac.balance.usage(max_retries=0)
    assert route.call_count == 1


@pytest.mark.parametrize("code", ["CADENCE_LIMIT", "PLAN_LIMIT_EXCEEDED"])
async def test_limits_are_never_retried(
    pac: PacSpace, mock_api: respx.MockRouter, no_sleep: list[float], code: str
) -> None:
    route = mock_api.post("/api/v1/balance/delta").respond(
        429, json={"error": {"code": code, "message": "m", "retryAfterSeconds": 1}}
    )
    with pytest.raises(ps.PacSpaceError):
        await pac.balance.emit("c", 1, "r")
    assert route.call_count == 1


@pytest.mark.parametrize("status", [400, 401, 404, 412])
async def test_client_errors_are_not_retried(
    pac: PacSpace, mock_api: respx.MockRouter, status: int
) -> None:
    route = mock_api.get("/api/v1/balance/usage").respond(status, json={})
    with pytest.raises(ps.PacSpaceError):
        await pac.balance.usage()
    assert route.call_count == 1


async def test_a_long_retry_after_surfaces_instead_of_hanging(
    pac: PacSpace, mock_api: respx.MockRouter, no_sleep: list[float]
) -> None:
    route = mock_api.get("/api/v1/balance/usage").respond(
        429, json={}, headers={"Retry-After": "3600"}
    )
    with pytest.raises(ps.RateLimitError) as caught:
        await pac.balance.usage()
    assert caught.value.retry_after == 3600 and route.call_count == 1


@pytest.mark.parametrize("nested", [False, True])
async def test_idempotency_pending_is_waited_out(
    pac: PacSpace, mock_api: respx.MockRouter, no_sleep: list[float], nested: bool
) -> None:
    pending = {"code": "IDEMPOTENCY_PENDING", "retryAfterSeconds": 0.25}
    route = mock_api.post("/api/v1/balance/delta")
    route.side_effect = [
        httpx.Response(202, json={"error": pending} if nested else pending),
        httpx.Response(202, json={"error": pending} if nested else pending),
        httpx.Response(200, json=OK),
    ]
    result = await pac.balance.emit("c", 1, "r")
    assert result.record_id == "r_1" and route.call_count == 3
    assert no_sleep == [0.25, 0.25]
    assert len({call.request.headers["idempotency-key"] for call in route.calls}) == 1


async def test_connection_drop_is_retried_with_the_same_key(
    pac: PacSpace, mock_api: respx.MockRouter, no_sleep: list[float]
) -> None:
    route = mock_api.post("/api/v1/balance/delta")
    route.side_effect = [httpx.RemoteProtocolError("dropped"), httpx.Response(200, json=OK)]
    await pac.balance.emit("c", 1, "r")
    assert route.call_count == 2
    keys = [call.request.headers["idempotency-key"] for call in route.calls]
    assert keys[0] == keys[1]


async def test_a_429_pauses_the_whole_client() -> None:
    """After a 429 with Retry-After, other calls wait too instead of hammering the server."""
    with respx.mock(base_url=BASE) as router:
        times: list[float] = []

        def answer(request: httpx.Request) -> httpx.Response:
            times.append(time.monotonic())
            if len(times) == 1:
                return httpx.Response(429, json={}, headers={"Retry-After": "0.3"})
            return httpx.Response(200, json=envelope({}))

        router.get("/api/v1/balance/usage").mock(side_effect=answer)
        router.get("/api/v1/balance/customers").mock(side_effect=answer)
        async with PacSpace(KEY, base_url=BASE) as pac:
            with pytest.raises(ps.RateLimitError):
                await pac.balance.usage(max_retries=0)
            started = time.monotonic()
            await pac.balance.customers()
        assert time.monotonic() - started >= 0.25
        assert times[1] - times[0] >= 0.25
