"""The scheduler: two tasks on the client's event loop.

The **ticker** journals the meters' new usage to the store every tick
(``journalIntervalMs``, when there are meters; else once a minute) and seals windows that
have ended (after a grace of two ticks, so that other processes' last journal of a window
joins the same slice). It never waits behind a delivery: what a SIGKILL can lose is one
tick of adds, however slow the service is.

The **flusher** delivers what is pending on the profile's cadence, aligned to UTC
(``daily`` flushes just after midnight UTC, when the day's windows have closed), or at
once for ``immediate``. A failing round of either is logged and the task goes on: it
never dies with the summaries still queued.
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

__all__ = ["IDLE_TICK", "FlushScheduler"]

log = logging.getLogger("pacspace")

IDLE_TICK = 60.0
"""With no meters, the scheduler looks at the clock at least this often (seconds)."""


class FlushScheduler:
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
        self._ticker: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._tick_wake: asyncio.Event | None = None
        self._stopping: asyncio.Event | None = None
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
        self._wake, self._tick_wake = asyncio.Event(), asyncio.Event()
        # Cancellation alone is not enough: on Python < 3.12, wait_for() can swallow a
        # cancel that lands as its event fires. Each pair of tasks also has a stop flag.
        stopping = self._stopping = asyncio.Event()
        self.next_flush = self._next_after(self._clock())
        self._task = loop.create_task(self._run(stopping), name="pacspace-summaries")
        self._ticker = loop.create_task(
            self._tick_loop(stopping), name="pacspace-summaries-journal"
        )

    def _next_after(self, now: float) -> float | None:
        if self._cadence <= 0:
            return None
        return (math.floor(now / self._cadence) + 1) * self._cadence

    def stop(self) -> None:
        tasks = (self._task, self._ticker)
        stopping, self._stopping = self._stopping, None
        self._task = self._ticker = None
        self.next_flush = None
        if stopping is not None and tasks[0] is not None:
            loop = tasks[0].get_loop()
            if running_loop() is loop:
                stopping.set()
            elif not loop.is_closed():
                loop.call_soon_threadsafe(stopping.set)
        for task in tasks:
            if task is not None and not task.done():
                loop = task.get_loop()
                if running_loop() is loop:
                    task.cancel()
                elif not loop.is_closed():
                    loop.call_soon_threadsafe(task.cancel)

    async def stop_and_wait(self) -> None:
        """Stop, and return once work already under way (a journal or a seal running in a
        worker thread) has finished: a close must not seal beside it."""
        tasks = [t for t in (self._task, self._ticker) if t is not None]
        self.stop()
        if tasks and all(t.get_loop() is running_loop() for t in tasks):
            await asyncio.gather(*tasks, return_exceptions=True)

    def poke(self) -> None:
        """Look again now: a new meter to journal, or the ``immediate`` profile's summaries."""
        loop = self._loop
        for wake in (self._wake, self._tick_wake):
            if wake is None or loop is None:
                continue
            if running_loop() is loop:
                wake.set()
            elif not loop.is_closed():
                loop.call_soon_threadsafe(wake.set)

    async def _run(self, stopping: asyncio.Event) -> None:
        assert self._wake is not None
        wake = self._wake
        while not stopping.is_set():
            now = self._clock()
            due = self.next_flush is not None and now >= self.next_flush
            if due or (self._immediate and self._has_pending()):
                await self._guarded(self._flush(), "summary delivery")
                self.next_flush = self._next_after(self._clock())
            wait = IDLE_TICK
            if self.next_flush is not None:
                wait = min(wait, max(0.0, self.next_flush - self._clock()))
            wake.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(wake.wait(), wait)

    async def _tick_loop(self, stopping: asyncio.Event) -> None:
        assert self._tick_wake is not None
        wake = self._tick_wake
        while not stopping.is_set():
            await self._guarded(self._tick(self._clock()), "meter journaling")
            wake.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(wake.wait(), self._interval())

    @staticmethod
    async def _guarded(work: Awaitable[object], what: str) -> None:
        try:
            await work
        except asyncio.CancelledError:
            raise
        except Exception:  # keep the scheduler alive; the summaries stay in the store
            log.exception("scheduled %s failed; it is tried again", what)
