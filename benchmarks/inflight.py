"""Many requests in flight on one client: the httpx backend against the aiohttp backend.

``N`` concurrent ``emit_and_wait`` (``N`` emits, then ``N`` status checks) over HTTPS
loopback to the canned server, which verifies every record at once. Beyond the pool
(128 connections) calls wait in the SDK's own line; before that line, httpcore's pool
scans made 1,000 in flight on the httpx backend send nothing for 150 s.
"""

from __future__ import annotations

import asyncio
import statistics
import time

from pacspace_async import HttpBackend

from ._common import KEY, CannedServer
from ._table import Row

IN_FLIGHT = (100, 1000, 2000)
ROUNDS = 2
LIMIT = 60.0
"""Seconds a burst may take before it counts as stalled (the run goes on)."""


async def _burst(url: str, backend: HttpBackend, count: int) -> float:
    import pacspace_async

    async with pacspace_async.PacSpace(KEY, base_url=url, http_backend=backend) as pac:
        await asyncio.gather(*(pac.balance.emit("cust_bench", -1, "usage") for _ in range(50)))
        started = time.perf_counter()
        results = await asyncio.wait_for(
            asyncio.gather(
                *(
                    pac.balance.emit_and_wait("cust_bench", -1, "usage", timeout=LIMIT)
                    for _ in range(count)
                )
            ),
            LIMIT,
        )
        elapsed = time.perf_counter() - started
    assert all(r.status == "VERIFIED" for r in results)
    return elapsed


def _time(url: str, backend: HttpBackend, count: int) -> float:
    try:
        return asyncio.run(_burst(url, backend, count))
    except TimeoutError:
        return float("inf")


def rows(server: CannedServer) -> list[Row]:
    out = []
    for count in IN_FLIGHT:
        ours, peer = [], []
        for _ in range(ROUNDS):  # interleaved, so a noisy moment hits both
            ours.append(_time(server.url, "httpx", count))
            peer.append(_time(server.url, "aiohttp", count))
        o, p = statistics.median(ours), statistics.median(peer)
        out.append(
            Row(
                f"{count:,} concurrent emit_and_wait, httpx backend",
                f"{o:.2f} s" if o != float("inf") else f"stalled > {LIMIT:.0f} s",
                f"{p:.2f} s aiohttp backend",
                p / o,
                ">= 0.2x (same order)",
            )
        )
    return out


if __name__ == "__main__":
    import os

    from ._table import print_table

    canned = CannedServer()
    os.environ["SSL_CERT_FILE"] = canned.ca
    try:
        print_table(rows(canned))
    finally:
        canned.close()
