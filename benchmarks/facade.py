"""The blocking facade's cost per call, against the same call async and a bare thread hand-off."""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys

import httpx

from ._common import KEY, ROUNDS, arate, rate
from ._table import Row


def _overhead_samples() -> tuple[float, float]:
    """Median µs per call of the same call, async and through the facade, on an
    in-process transport, in alternating rounds."""
    import pacspace_async
    import pacspace_sync

    answer = httpx.Response(200, json={"success": True, "data": {"used": 1}})

    async def handler(request: httpx.Request) -> httpx.Response:
        return answer

    async def async_side() -> float:
        http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
        async with pacspace_async.PacSpace(
            KEY, base_url="https://bench.test", http_client=http
        ) as pac:
            return await arate(pac.balance.usage, 20_000, 1.5)

    samples_async, samples_sync = [], []
    for _ in range(ROUNDS):
        samples_async.append(1e6 / asyncio.run(async_side()))
        http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
        with pacspace_sync.PacSpace(KEY, base_url="https://bench.test", http_client=http) as pac:
            samples_sync.append(1e6 / rate(pac.balance.usage, 20_000, 1.5))
    return statistics.median(samples_async), statistics.median(samples_sync)


def _overhead_row(name: str, a: float, s: float) -> Row:
    return Row(
        name,
        f"{s:.0f} µs/call",
        f"{a:.0f} µs/call async",
        a / s,
        f"overhead {s - a:.0f} µs (aim <= 150)",
    )


def sync_overhead() -> Row:
    """The facade's cost per call: the same call, sync vs async, on an in-process transport."""
    a, s = _overhead_samples()
    return _overhead_row("sync facade overhead per call (in-process)", a, s)


def one_core_overhead() -> Row:
    """:func:`sync_overhead` in a process kept on one CPU: the caller and the loop thread
    then hand over on one core, so what is left is the facade's own cost, without the two
    cross-core wake-ups (an interrupt between virtual CPUs, on a VM) that dominate it."""
    name = "sync facade overhead, the process on one CPU (no cross-core wake-up)"
    if not hasattr(os, "sched_setaffinity"):
        return Row(name, "(needs Linux)", "", float("nan"), "")
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.facade", "one-cpu"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    a, s = (float(x) for x in out.stdout.split())
    return _overhead_row(name, a, s)


def handoff_floor() -> Row:
    """What one cross-thread round trip costs here, whatever the design: the facade's floor."""
    import threading

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def noop() -> None:
        return None

    direct = 1e6 / rate(
        lambda: asyncio.run_coroutine_threadsafe(noop(), loop).result(), 20_000, 1.5
    )
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    return Row(
        "bare thread hand-off (no SDK)",
        f"{direct:.0f} µs/round trip",
        "(context for the row above)",
        1.0,
        "the floor of any loop-thread facade",
    )


def handoff_vs_stdlib() -> Row:
    """The facade's hand-off (a lock released by the task) against the standard library's
    ``run_coroutine_threadsafe(...).result()``, on the same loop thread, in alternating
    rounds (this VM's speed drifts by tens of percent within a minute)."""
    from pacspace_sync._loop import loop_thread

    async def noop() -> None:
        return None

    generation = loop_thread.acquire()
    try:
        loop = loop_thread._start()
        ours, stdlib = [], []
        for _ in range(ROUNDS * 3):
            ours.append(1e6 / rate(lambda: loop_thread.run(noop()), 5_000, 0.5))
            stdlib.append(
                1e6
                / rate(lambda: asyncio.run_coroutine_threadsafe(noop(), loop).result(), 5_000, 0.5)
            )
    finally:
        loop_thread.release(generation)
    o, s = statistics.median(ours), statistics.median(stdlib)
    return Row(
        "blocking hand-off of one call (loop thread and back)",
        f"{o:.0f} µs pacspace_sync",
        f"{s:.0f} µs run_coroutine_threadsafe",
        s / o,
        "> 1x",
    )


def rows() -> list[Row]:
    return [sync_overhead(), handoff_floor(), one_core_overhead(), handoff_vs_stdlib()]


if __name__ == "__main__" and sys.argv[1:] == ["one-cpu"]:
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # threads started later inherit it
    print(*_overhead_samples())
