"""One process of a metered service, as the fleet tests run it (not a test module).

    python tests/fleet_worker.py meter URL KEY OUTBOX WINDOW ADDS [CUSTOMERS...]
    python tests/fleet_worker.py flush URL KEY OUTBOX

``meter`` adds ``-1`` ADDS times, spread over the customers and two reasons, printing
``added N`` every ten adds and ``ready`` at the end; then it waits for SIGTERM and closes
the client as a service's shutdown does, printing the close report. ``flush`` is the
restart: a client on the same outbox that sends what it holds and closes. OUTBOX is
``-`` for memory.
"""

from __future__ import annotations

import asyncio
import signal
import sys

from pacspace_async import PacSpace


def client(url: str, key: str, outbox: str) -> PacSpace:
    submission: dict[str, object] = {
        "cadenceMs": 300,
        "journalIntervalMs": 100,
        "maxRequestsPerMinute": 60_000,
        "shutdownTimeoutMs": 3_000,
    }
    if outbox != "-":
        submission["outbox"] = outbox
    return PacSpace(key, base_url=url, max_retries=0, submission=submission)


async def meter(
    url: str, key: str, outbox: str, window: str, adds: int, customers: list[str]
) -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    pac = client(url, key, outbox)
    meter = pac.balance.meter(window=window)
    for i in range(adds):
        customer = customers[i % len(customers)]
        meter.add(customer, -1, reason=("compute", "storage")[(i // len(customers)) % 2])
        if (i + 1) % 10 == 0:
            print(f"added {i + 1}", flush=True)
            await asyncio.sleep(0.005)  # a service between requests
        if stop.is_set():
            break
    print("ready", flush=True)
    await stop.wait()
    report = await pac.aclose()
    print(f"closed undelivered={report.undelivered} lost={report.lost}", flush=True)


async def flush(url: str, key: str, outbox: str) -> None:
    pac = client(url, key, outbox)
    result = await pac.balance.flush_summaries()
    report = await pac.aclose()
    print(f"flushed {result.accepted} undelivered={report.undelivered}", flush=True)


if __name__ == "__main__":
    command, url, key, outbox, *rest = sys.argv[1:]
    if command == "meter":
        asyncio.run(meter(url, key, outbox, rest[0], int(rest[1]), rest[2:]))
    else:
        asyncio.run(flush(url, key, outbox))
