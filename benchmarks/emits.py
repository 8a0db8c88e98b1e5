"""Emits over HTTPS loopback: sequential blocking ones against pacspace-sdk, 64 in flight
against raw aiohttp and httpx, and the canned server's headroom."""

from __future__ import annotations

import asyncio
import ssl
import statistics
import time

import httpx

from pacspace_async import HttpBackend

from ._common import KEY, ROUNDS, CannedServer, keepalive_rate, rate
from ._table import Row

CONCURRENT = 3000
"""Emits per concurrent measurement (64 in flight)."""


async def _emit_many(url: str, backend: HttpBackend, count: int = CONCURRENT) -> float:
    import pacspace_async

    async with pacspace_async.PacSpace(KEY, base_url=url, http_backend=backend) as pac:
        items = [{"customerId": "cust_bench", "delta": -1, "reason": "usage"}] * count
        await pac.balance.emit_many(items[:200], concurrency=64)  # warm the pool
        started = time.perf_counter()
        results = await pac.balance.emit_many(items, concurrency=64)
        elapsed = time.perf_counter() - started
    assert all(not isinstance(r, Exception) for r in results)
    return count / elapsed


async def _raw_aiohttp(url: str, ca: str, count: int = CONCURRENT) -> float:
    import aiohttp

    context = ssl.create_default_context(cafile=ca)
    body = b'{"customerId":"cust_bench","delta":-1,"reason":"usage"}'
    headers = {"X-Api-Key": KEY, "Content-Type": "application/json"}
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=64, ssl=context)
    ) as session:
        slots = asyncio.Semaphore(64)

        async def one() -> None:
            async with (
                slots,
                session.post(f"{url}/api/v1/balance/delta", data=body, headers=headers) as response,
            ):
                await response.read()

        await asyncio.gather(*(one() for _ in range(200)))
        started = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(count)))
        return count / (time.perf_counter() - started)


async def _raw_httpx(url: str) -> float:
    body = b'{"customerId":"cust_bench","delta":-1,"reason":"usage"}'
    headers = {"X-Api-Key": KEY, "Content-Type": "application/json"}
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(limits=limits) as client:
        slots = asyncio.Semaphore(64)

        async def one() -> None:
            async with slots:
                await client.post(f"{url}/api/v1/balance/delta", content=body, headers=headers)

        await asyncio.gather(*(one() for _ in range(200)))
        started = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(CONCURRENT)))
        return CONCURRENT / (time.perf_counter() - started)


def concurrent_emits(server: CannedServer) -> list[Row]:
    raw_aiohttp, raw_httpx, ours_aiohttp, ours_httpx, ours_auto = [], [], [], [], []
    for _ in range(ROUNDS):
        raw_aiohttp.append(asyncio.run(_raw_aiohttp(server.url, server.ca)))
        ours_aiohttp.append(asyncio.run(_emit_many(server.url, "aiohttp")))
        raw_httpx.append(asyncio.run(_raw_httpx(server.url)))
        ours_httpx.append(asyncio.run(_emit_many(server.url, "httpx")))
        ours_auto.append(asyncio.run(_emit_many(server.url, "auto")))
    ra, rh = statistics.median(raw_aiohttp), statistics.median(raw_httpx)
    oa, oh = statistics.median(ours_aiohttp), statistics.median(ours_httpx)
    auto = statistics.median(ours_auto)
    return [
        Row(
            "emit_many, 64 in flight, default install (auto)",
            f"{auto:,.0f}/s",
            f"{oh:,.0f}/s our httpx backend",
            auto / oh,
            ">= 3x",
        ),
        Row(
            "emit_many, 64 in flight, aiohttp backend",
            f"{oa:,.0f}/s",
            f"{ra:,.0f}/s raw aiohttp",
            oa / ra,
            ">= 0.9x",
        ),
        Row(
            "emit_many, 64 in flight, httpx backend",
            f"{oh:,.0f}/s",
            f"{rh:,.0f}/s raw httpx",
            oh / rh,
            "(context)",
        ),
    ]


def sequential_sync_emits(server: CannedServer) -> list[Row]:
    import pacspace_sdk

    import pacspace_sync

    official = pacspace_sdk.PacSpace(KEY, base_url=server.url)
    body = b'{"customerId":"cust_bench","delta":-1,"reason":"usage"}'
    headers = {"X-Api-Key": KEY, "Content-Type": "application/json"}
    url = f"{server.url}/api/v1/balance/delta"
    ours_samples, theirs_samples, raw_samples = [], [], []
    with (
        pacspace_sync.PacSpace(KEY, base_url=server.url) as pac,
        httpx.Client() as raw,  # one keep-alive connection, the floor of a blocking client
    ):
        for _ in range(5):  # interleaved, so a noisy moment hits all three
            theirs_samples.append(
                rate(lambda: official.balance.emit("cust_bench", -1, "usage"), 300, 1.5)
            )
            ours_samples.append(
                rate(lambda: pac.balance.emit("cust_bench", -1, "usage"), 3000, 1.5)
            )
            raw_samples.append(
                rate(lambda: raw.post(url, content=body, headers=headers).read(), 3000, 1.5)
            )
    ours, theirs = statistics.median(ours_samples), statistics.median(theirs_samples)
    floor = statistics.median(raw_samples)
    return [
        Row(
            "sequential sync emits/s (HTTPS loopback)",
            f"{ours:,.0f}/s pacspace_sync",
            f"{theirs:,.0f}/s pacspace-sdk 0.7.0",
            ours / theirs,
            ">= 3x",
        ),
        Row(
            "the same, against a raw blocking client",
            f"{ours:,.0f}/s pacspace_sync",
            f"{floor:,.0f}/s raw httpx.Client, one keep-alive connection",
            ours / floor,
            ">= 0.95x",
        ),
    ]


async def _raw_rate(url: str, ca: str, connections: int, budget: float) -> float:
    """Requests/s a bare asyncio client gets from the canned server: its headroom."""
    port = int(url.rsplit(":", 1)[1])
    request = (
        b"POST /api/v1/balance/delta HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
    )
    return await keepalive_rate(
        port, request, connections, budget, ssl.create_default_context(cafile=ca)
    )


def server_headroom(server: CannedServer) -> Row:
    raw = asyncio.run(_raw_rate(server.url, server.ca, 16, 2.0))
    return Row(
        "canned HTTPS server headroom",
        f"{raw:,.0f} req/s bare asyncio client",
        "(the server, not a client)",
        1.0,
        "well above any client row",
    )


def rows(server: CannedServer) -> list[Row]:
    return [server_headroom(server), *sequential_sync_emits(server), *concurrent_emits(server)]
