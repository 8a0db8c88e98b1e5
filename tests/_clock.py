"""Clocks tests move by hand instead of sleeping."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


class Clock:
    def __init__(self, now: float | None = None) -> None:
        self.now = time.time() if now is None else now

    def __call__(self) -> float:
        return self.now


class VirtualTime:
    """Time for asyncio code that takes ``clock`` and ``sleep`` injected: it moves only
    when :meth:`run` jumps it to the next sleeper, once everything else is idle, so a
    schedule of seconds runs in microseconds and the same way every time."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        future = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + max(0.0, seconds), next(self._order), future))
        await future

    async def settle(self) -> None:
        """Let every task run until each waits on something (a sleeper, a future)."""
        loop = asyncio.get_running_loop()
        for _ in range(100_000):
            await asyncio.sleep(0)
            if not loop._ready:  # type: ignore[attr-defined]  # asyncio's run queue
                return
        raise RuntimeError("the loop never went idle")

    async def run(self, until: Callable[[], bool], *, limit: float = 60.0) -> None:
        """Jump from sleeper to sleeper until ``until()`` holds (at most ``limit`` s)."""
        end = self.now + limit
        while True:
            await self.settle()
            if until():
                return
            while self._sleepers and self._sleepers[0][2].done():  # cancelled sleeps
                heapq.heappop(self._sleepers)
            if not self._sleepers:
                raise RuntimeError("nothing sleeps and the condition does not hold")
            when, _, future = heapq.heappop(self._sleepers)
            if when > end:
                raise TimeoutError(f"still waiting after {limit} virtual seconds")
            self.now = max(self.now, when)
            future.set_result(None)

    async def advance(self, seconds: float) -> None:
        """Let ``seconds`` of virtual time pass."""
        target = self.now + seconds
        await self.sleep_until(target)

    async def sleep_until(self, target: float) -> None:
        marker = asyncio.ensure_future(self.sleep(target - self.now))
        await self.run(marker.done, limit=target - self.now + 1)

    async def gather(self, *aws: Awaitable[T], limit: float = 60.0) -> list[T]:
        """Run ``aws`` to completion on virtual time."""
        tasks = [asyncio.ensure_future(a) for a in aws]
        await self.run(lambda: all(t.done() for t in tasks), limit=limit)
        return [t.result() for t in tasks]
