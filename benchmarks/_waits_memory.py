"""``python -m benchmarks._waits_memory KEY URL``: the client's RSS idle and while holding
10,000 concurrent waits, and how many were pending, printed on one line."""

from __future__ import annotations

import asyncio
import sys

import pacspace_async

from ._rss import rss

WAITS = 10_000


async def main(key: str, url: str) -> None:
    async with pacspace_async.PacSpace(key, base_url=url, http_backend="aiohttp") as pac:
        await pac.balance.usage()
        idle = rss()
        items = [
            {"customerId": f"cust_{i % 100}", "delta": -1, "reason": "usage"} for i in range(WAITS)
        ]
        emitted = await pac.balance.emit_many(items, concurrency=64)
        records = [r.record_id for r in emitted if isinstance(r, pacspace_async.types.EmitResult)]
        del items, emitted
        waits = [
            asyncio.ensure_future(pac.balance.wait_for_verified(r, timeout=120)) for r in records
        ]
        while pac.balance._waiter.pending < len(records):  # noqa: ASYNC110 - a counter, no event
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.5)  # the first status checks are out
        print(idle, rss(), pac.balance._waiter.pending, flush=True)
        for wait in waits:
            wait.cancel()
        await asyncio.gather(*waits, return_exceptions=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
