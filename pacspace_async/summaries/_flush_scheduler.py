"""The scheduler: two tasks on the client's event loop (asyncio or trio), in one task group.

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

import concurrent.futures
import contextlib
import logging
import math
from collections.abc import Awaitable, Callable

import anyio

from .._aio import Detached, Home
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
        self.home: Home | None = None
        """The loop the client lives on, when built in one (set by the client)."""
        self._reset()

    def _reset(self) -> None:
        self._task: Detached | None = None
        self._running: _Run | None = None
        self.next_flush: float | None = None

    def after_fork(self) -> None:
        """The parent's task and loop do not exist in a forked child."""
        self._reset()
        self.home = None

    @property
    def is_running(self) -> bool:
        return self._task is not None and not self._task.done()

    @property
    def loop(self) -> Home | None:
        """The loop the scheduler runs (or will run) on."""
        return self._task.home if self._task is not None else self.home

    def start(self) -> None:
        """Start on the client's loop (from that loop, or any other thread)."""
        if self.is_running:
            return
        running = Home.current()
        home = running or self.home
        if home is None:
            raise PacSpaceError(
                "start_summary_scheduler() needs a running event loop: call it from async code.",
                0,
                "NO_EVENT_LOOP",
            )
        if running == home:
            self._spawn(home)
            return
        # From another thread (the sync facade's callers): hand over, and return only once
        # the task exists, so a start is done when start() returns.
        spawned: concurrent.futures.Future[None] = concurrent.futures.Future()

        def spawn() -> None:
            try:
                self._spawn(home)
                spawned.set_result(None)
            except BaseException as exc:
                spawned.set_exception(exc)

        if home.call_soon(spawn):
            with contextlib.suppress(concurrent.futures.TimeoutError):
                spawned.result(timeout=5)

    def _spawn(self, home: Home) -> None:
        if self.is_running:
            return
        run = self._running = _Run()
        self.next_flush = self._next_after(self._clock())
        self._task = home.spawn(lambda: self._both(run), "pacspace-summaries")

    def _next_after(self, now: float) -> float | None:
        if self._cadence <= 0:
            return None
        return (math.floor(now / self._cadence) + 1) * self._cadence

    def stop(self) -> None:
        task, self._task = self._task, None
        run, self._running = self._running, None
        self.next_flush = None
        if run is not None:
            run.stopping = True  # seen between rounds even if the cancel lands late
        if task is not None and not task.done():
            task.cancel_from_anywhere()

    async def stop_and_wait(self) -> None:
        """Stop, and return once work already under way (a journal or a seal running in a
        worker thread) has finished: a close must not seal beside it."""
        task = self._task
        self.stop()
        if task is not None and task.home.is_current():
            await task.join()

    def poke(self) -> None:
        """Look again now: a new meter to journal, or the ``immediate`` profile's summaries."""
        task, run = self._task, self._running
        if task is None or run is None:
            return
        if task.home.is_current():
            run.wake_both()
        else:
            task.home.call_soon(run.wake_both)

    async def _both(self, run: _Run) -> None:
        async with anyio.create_task_group() as both:
            both.start_soon(self._flush_loop, run)
            both.start_soon(self._tick_loop, run)

    async def _flush_loop(self, run: _Run) -> None:
        while not run.stopping:
            now = self._clock()
            due = self.next_flush is not None and now >= self.next_flush
            if due or (self._immediate and self._has_pending()):
                await self._guarded(self._flush(), "summary delivery")
                self.next_flush = self._next_after(self._clock())
            wait = IDLE_TICK
            if self.next_flush is not None:
                wait = min(wait, max(0.0, self.next_flush - self._clock()))
            wake = run.flush_wake = anyio.Event()
            with anyio.move_on_after(wait):
                await wake.wait()

    async def _tick_loop(self, run: _Run) -> None:
        while not run.stopping:
            await self._guarded(self._tick(self._clock()), "meter journaling")
            wake = run.tick_wake = anyio.Event()
            with anyio.move_on_after(self._interval()):
                await wake.wait()

    @staticmethod
    async def _guarded(work: Awaitable[object], what: str) -> None:
        try:
            await work
        except anyio.get_cancelled_exc_class():
            raise
        except Exception:  # keep the scheduler alive; the summaries stay in the store
            log.exception("scheduled %s failed; it is tried again", what)


class _Run:
    """One start of the scheduler: its stop flag and the events that wake its two loops."""

    __slots__ = ("flush_wake", "stopping", "tick_wake")

    def __init__(self) -> None:
        self.stopping = False
        self.flush_wake: anyio.Event | None = None
        self.tick_wake: anyio.Event | None = None

    def wake_both(self) -> None:
        for wake in (self.flush_wake, self.tick_wake):
            if wake is not None:
                wake.set()
