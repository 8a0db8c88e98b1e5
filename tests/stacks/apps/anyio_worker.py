"""An async worker as anyio users write it, on the backend named on its command line:
``python -m tests.stacks.apps.anyio_worker asyncio|trio OUTBOX``. Three hundred tasks of
one task group meter usage in two reasons, thirty deltas go out through ``emit_many`` and
ten of them are waited for; then it prints ``ready`` and runs until SIGTERM, which it
receives as anyio delivers signals, closing the client before it exits."""

from __future__ import annotations

import signal
import sys

import anyio

from ._client import async_client


async def main(outbox: str) -> None:
    pac = async_client(outbox=outbox)
    meter = pac.balance.meter(window="1s")  # windows end within the test

    async def job(n: int) -> None:
        await anyio.sleep(n % 5 / 1000)
        meter.add(f"c{n % 3}", "-0.5", reason=("compute", "storage")[n % 2])

    async with anyio.create_task_group() as jobs:
        for n in range(300):
            jobs.start_soon(job, n)
    items = [
        {"customerId": f"e{n % 2}", "delta": "-0.25", "reason": "usage", "referenceId": f"e{n}"}
        for n in range(30)
    ]
    emitted = await pac.balance.emit_many(items, concurrency=8, return_exceptions=False)
    async with anyio.create_task_group() as waits:
        for result in emitted[:10]:
            waits.start_soon(pac.balance.wait_for_verified, result.record_id)  # type: ignore[union-attr]
    with anyio.open_signal_receiver(signal.SIGTERM) as signals:
        print("ready", flush=True)
        async for _ in signals:
            break
    report = await pac.aclose()
    print(f"closed lost={report.lost}", flush=True)


if __name__ == "__main__":
    anyio.run(main, sys.argv[2], backend=sys.argv[1])
