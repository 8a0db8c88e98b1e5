"""The scheduler: one task on the client's event loop.

Every tick it journals the meters' new usage to the store (``journalIntervalMs``, when
there are meters; else once a minute), seals windows that have ended (after a grace of
two ticks, so that other processes' last journal of a window joins the same slice), and
on the profile's cadence delivers what is pending. Cadence flushes are aligned to UTC
(``daily`` flushes just after midnight UTC, when the day's windows have closed). A failing
tick is logged and the task goes on: it never dies with the summaries still queued.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import math
from collections.abc import Awaitable, Callable

from .._aio import running_loop
from .._errors import PacSpaceError

__all__ = ["IDLE_TICK", "Scheduler"]

log = logging.getLogger("pacspace")

IDLE_TICK = 60.0
"""With no meters, the scheduler looks at the clock at least this often (seconds)."""


class Scheduler:
    def __init__(
        self,
        *,
        cadence: float,
        immediate: bool,
        clock: Callable[[], float],
        tick: Callable[[float], Awaitable[None]],
        flush: Callable[[], Awaitable[object]],
        has_pending: Callable[[], bool],
        interval: Callable[[], float],
    ) -> None:
        self._cadence = cadence
        self._immediate = immediate
        self._clock = clock
        self._tick = tick
        self._flush = flush
        self._has_pending = has_pending
        self._interval = interval
        self.home_loop: asyncio.AbstractEventLoop | None = None
        self._reset()

    def _reset(self) -> None:
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self.next_flush: float | None = None

    def after_fork(self) -> None:
        """The parent's task and loop do not exist in a forked child."""
        self._reset()
        self.home_loop = None

    @property
    def is_running(self) -> bool:
        return self._task is not None and not self._task.done()

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        return self._loop or self.home_loop

    def start(self) -> None:
        """Start on the client's loop (from that loop, or any other thread)."""
        if self.is_running:
            return
        running = running_loop()
        loop = running or self.home_loop
        if loop is None:
            raise PacSpaceError(
                "start_summary_scheduler() needs a running event loop: call it from async code.",
                0,
                "NO_EVENT_LOOP",
            )
        if running is loop:
            self._spawn(loop)
            return
        # From another thread (the sync facade's callers): hand over, and return only once
        # the task exists, so a start is done when start() returns.
        spawned: concurrent.futures.Future[None] = concurrent.futures.Future()

        def spawn() -> None:
            try:
                self._spawn(loop)
                spawned.set_result(None)
            except BaseException as exc:
                spawned.set_exception(exc)

        loop.call_soon_threadsafe(spawn)
        with contextlib.suppress(concurrent.futures.TimeoutError):
            spawned.result(timeout=5)

    def _spawn(self, loop: asyncio.AbstractEventLoop) -> None:
        if self.is_running:
            return
        self._loop = loop
        self._wake = asyncio.Event()
        self.next_flush = self._next_after(self._clock())
        self._task = loop.create_task(self._run(), name="pacspace-summaries")

    def _next_after(self, now: float) -> float | None:
        if self._cadence <= 0:
            return None
        return (math.floor(now / self._cadence) + 1) * self._cadence

    def stop(self) -> None:
        task, self._task = self._task, None
        self.next_flush = None
        if task is not None and not task.done():
            loop = task.get_loop()
            if running_loop() is loop:
                task.cancel()
            elif not loop.is_closed():
                loop.call_soon_threadsafe(task.cancel)

    def poke(self) -> None:
        """Run a tick now (the ``immediate`` profile's new summaries)."""
        wake, loop = self._wake, self._loop
        if wake is None or loop is None:
            return
        if running_loop() is loop:
            wake.set()
        elif not loop.is_closed():
            loop.call_soon_threadsafe(wake.set)

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            now = self._clock()
            try:
                await self._tick(now)
                due = self.next_flush is not None and now >= self.next_flush
                if due or (self._immediate and self._has_pending()):
                    await self._flush()
                    self.next_flush = self._next_after(self._clock())
            except asyncio.CancelledError:
                raise
            except Exception:  # keep the scheduler alive; the summaries stay in the store
                log.exception("scheduled summary work failed; it is tried again next tick")
            wait = self._interval()
            if self.next_flush is not None:
                wait = min(wait, max(0.0, self.next_flush - self._clock()))
            self._wake.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)
