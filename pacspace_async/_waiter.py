"""Waiting for verification without one poll loop per record.

A service that emits thousands of deltas and waits for each must not run thousands of
sleeping loops that each poll on a fixed interval: that is the official client's design,
and it costs about two status requests per delta and most of a poll interval of lag.

Here one watcher task per client owns every pending wait. It

* schedules each record's first status check near the *observed* median verification
  time (a default until it has data), learnt from the server's ``createdAt``/``verifiedAt``
  when it sends them and from the check times otherwise;
* checks again after a short step that grows with jitter up to the wait's
  ``poll_interval``, so records that verify late are found quickly without a burst;
* caps concurrent status requests, shares one check between several waits on the same
  record, honours each wait's own timeout, and resolves ``FAILED`` as well as
  ``VERIFIED``;
* accepts outside news through :meth:`Waiter.resolve` (a verified webhook delivery), which
  ends the waits at once and stops polling that record.

The watcher runs on the asyncio loop of the waits (``loop.create_task``), starts with the
first wait and ends when none is left, so an idle client runs nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import random
import statistics
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from ._aio import running_loop
from ._errors import APIConnectionError, NotFoundError, PacSpaceError
from ._errors import TimeoutError as WaitTimeoutError
from ._retry import is_retryable
from ._time import parse_iso
from .types import RecordStatus

__all__ = ["Waiter"]

log = logging.getLogger("pacspace")

DEFAULT_FIRST_CHECK = 1.0
"""Seconds before the first check while nothing has been learnt yet."""
MIN_STEP = 0.05
FEED_WINDOW = 600.0
"""A webhook delivery within this many seconds means deliveries are flowing."""
SAMPLES = 256
RECENT = 4096
LEARNT = 5
"""Samples of verification time before the estimate replaces the default: most of the
scouts' (the first to report are the fastest; an estimate from them alone is early)."""
SCOUTS = 8
"""With nothing learnt, this many records scout: checked early and often, so that the
rest wait for what they learn instead of all polling on a guess (a cold start)."""
SCOUT_FIRST = 0.25
"""A scout's first check and first step, as a fraction of the default first check."""
SCOUT_PRECISION = 0.15
"""A scout's next check comes this fraction of its age later: what it learns is within
about 7 % of the truth, whatever the verification time."""
HOLD = 3.0
"""Until the scouts have learnt, the others' first check, as a multiple of the default
(brought forward as soon as an estimate exists)."""


@dataclass(eq=False)
class _Watch:
    record_id: str
    started: float
    poll_interval: float
    futures: list[asyncio.Future[RecordStatus]] = field(default_factory=list)
    due: float = 0.0
    step: float = 0.0
    checks: int = 0
    last_pending: float | None = None
    in_flight: bool = False
    scout: bool = False


class Waiter:
    """Multiplexes every verification wait of one client."""

    def __init__(
        self,
        fetch: Callable[[str], Awaitable[RecordStatus]],
        *,
        max_in_flight: int = 32,
        first_check: float = DEFAULT_FIRST_CHECK,
    ) -> None:
        self._fetch = fetch
        self._max_in_flight = max_in_flight
        self._default_first = first_check
        self._watches: dict[str, _Watch] = {}
        self._heap: list[tuple[float, int, _Watch]] = []
        self._order = itertools.count()
        self._samples: deque[float] = deque(maxlen=SAMPLES)
        self._recent: OrderedDict[str, RecordStatus] = OrderedDict()
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._checks: set[asyncio.Task[None]] = set()
        self._slots: asyncio.Semaphore | None = None
        self._last_feed: float | None = None
        self._scouting = 0
        self._estimated: float | None = None
        """The first-check delay pending watches were last scheduled with."""
        self.status_requests = 0
        """Status requests sent so far (for benchmarks and tests)."""

    # -- public -------------------------------------------------------------------

    @property
    def pending(self) -> int:
        return len(self._watches)

    def feeding(self, now: float | None = None) -> bool:
        """Whether webhook deliveries are flowing: then polling is only a fallback."""
        last = self._last_feed
        return last is not None and (time.monotonic() if now is None else now) - last < FEED_WINDOW

    def _fallback(self, first: float) -> float:
        """When deliveries flow, the first status check waits for a lost delivery only."""
        return first * 2 + 1.0

    def estimate(self) -> tuple[float, float]:
        """(first check delay, first step) from what has been learnt.

        The first check goes at the observed 60th percentile of verification time and the
        second near the 90th: about 1.5 status requests per delta for a typical spread,
        with a lag of a fraction of that spread.
        """
        if len(self._samples) < LEARNT:
            return self._default_first, max(MIN_STEP, self._default_first * 0.2)
        deciles = statistics.quantiles(self._samples, n=10)
        p60, p90 = deciles[5], deciles[8]
        return p60, max(MIN_STEP, p90 - p60, p60 * 0.05)

    async def wait(
        self,
        record_id: str,
        *,
        timeout: float,
        poll_interval: float,
        started: float | None = None,
    ) -> RecordStatus:
        """Wait until ``record_id`` is ``VERIFIED`` or ``FAILED``; raise at ``timeout``."""
        known = self._recent.get(record_id)
        if known is not None:
            return known
        loop = asyncio.get_running_loop()
        watch = self._watches.get(record_id)
        now = time.monotonic()
        if watch is None:
            watch = _Watch(record_id, started if started is not None else now, poll_interval)
            first, step = self.estimate()
            watch.step = min(step, poll_interval)
            self._watches[record_id] = watch
            delay = min(first, poll_interval * 4)
            if self.feeding(now):
                delay = self._fallback(first)
            elif len(self._samples) < LEARNT:
                delay = self._cold_start(watch, delay)
            self._schedule(watch, max(now, watch.started + delay))
        else:
            watch.poll_interval = min(watch.poll_interval, poll_interval)
        future: asyncio.Future[RecordStatus] = loop.create_future()
        watch.futures.append(future)
        self._ensure_running(loop)
        try:
            return await asyncio.wait_for(future, timeout)
        except asyncio.TimeoutError:
            raise WaitTimeoutError(
                f"Record {record_id} did not reach a terminal status within {timeout * 1000:.0f}ms",
                0,
                None,
                None,
            ) from None
        finally:
            if not future.done():
                future.cancel()
            self._forget(watch, future)

    def resolve(self, record_id: str, status: RecordStatus) -> bool:
        """Settle waits on ``record_id`` with news from outside (a webhook delivery).

        Returns whether a wait was pending. A later wait on the same record is answered
        at once from a small cache of recent results.
        """
        if not status.is_terminal:
            return False
        loop = self._task.get_loop() if self._task is not None else None
        if loop is not None and running_loop() is not loop:
            # Called from another thread (a web server's, under the sync facade): hand over.
            loop.call_soon_threadsafe(self.resolve, record_id, status)
            return record_id in self._watches
        self._remember(record_id, status)
        now = time.monotonic()
        was_feeding = self.feeding(now)
        self._last_feed = now
        watch = self._watches.get(record_id)
        if watch is not None:
            self._sample(now - watch.started)
            self._settle(watch, status)
        if not was_feeding:
            # Deliveries just started flowing: push the other pending checks back.
            fallback = self._fallback(self.estimate()[0])
            for other in list(self._watches.values()):
                if not other.in_flight and other.due < other.started + fallback:
                    self._schedule(other, other.started + fallback)
        return watch is not None

    async def aclose(self) -> None:
        # In-flight status checks stop now: they would retry on a closed connection pool.
        checks = list(self._checks)
        for check in checks:
            check.cancel()
        if checks:
            await asyncio.gather(*checks, return_exceptions=True)
        for watch in list(self._watches.values()):
            for future in watch.futures:
                if not future.done():
                    future.set_exception(PacSpaceError("The client is closed.", 0, "CLIENT_CLOSED"))
        self._watches.clear()
        self._scouting = 0
        self._heap.clear()
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, RuntimeError):
                await task

    # -- the watcher ----------------------------------------------------------------

    def _ensure_running(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._task is None or self._task.done():
            self._wake = asyncio.Event()
            self._slots = asyncio.Semaphore(self._max_in_flight)
            self._task = loop.create_task(self._run(), name="pacspace-waiter")
        else:
            assert self._wake is not None
            self._wake.set()

    def _schedule(self, watch: _Watch, due: float) -> None:
        watch.due = due
        heapq.heappush(self._heap, (due, next(self._order), watch))
        if self._wake is not None:
            self._wake.set()

    async def _run(self) -> None:
        assert self._wake is not None and self._slots is not None
        wake, slots = self._wake, self._slots
        loop = asyncio.get_running_loop()
        while self._watches:
            now = time.monotonic()
            while self._heap and self._heap[0][0] <= now:
                due, _, watch = heapq.heappop(self._heap)
                if (
                    watch.due != due
                    or watch.in_flight
                    or self._watches.get(watch.record_id) is not watch
                ):
                    continue
                await slots.acquire()
                watch.in_flight = True
                task = loop.create_task(self._check(watch, slots))
                self._checks.add(task)
                task.add_done_callback(self._checks.discard)
            wake.clear()
            delay = self._heap[0][0] - time.monotonic() if self._heap else None
            if delay is not None and delay <= 0:
                continue
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(wake.wait(), delay)
        self._task = None

    async def _check(self, watch: _Watch, slots: asyncio.Semaphore) -> None:
        sent = time.monotonic()
        try:
            self.status_requests += 1
            status = await self._fetch(watch.record_id)
        except PacSpaceError as exc:
            # A record may not be readable for a moment after emit: a few 404s are "not yet".
            not_yet = isinstance(exc, NotFoundError) and watch.checks < 3
            if not (is_retryable(exc) or not_yet or isinstance(exc, APIConnectionError)):
                self._fail(watch, exc)
                return
            log.debug("status check for %s failed (%s); trying again", watch.record_id, exc.code)
            self._reschedule(watch, time.monotonic())
            return
        except Exception as exc:  # a bug or an unexpected answer: fail the waits, loudly
            self._fail(watch, _internal(watch, exc))
            return
        finally:
            watch.in_flight = False
            watch.checks += 1
            slots.release()
        try:
            if status.is_terminal:
                self._remember(watch.record_id, status)
                self._settle(watch, status)
                self._learn(watch, status, sent)
            else:
                watch.last_pending = sent
                self._reschedule(watch, time.monotonic())
        except Exception as exc:  # never strand a wait: it fails now, not at its timeout
            self._fail(watch, _internal(watch, exc))

    def _cold_start(self, watch: _Watch, delay: float) -> float:
        """Nothing learnt yet: a few scouts check early and often, the rest hold back
        until what the scouts learn brings them forward (:meth:`_sample`)."""
        if self._scouting < SCOUTS:
            self._scouting += 1
            watch.scout = True
            watch.step = watch.poll_interval
            return max(MIN_STEP, self._default_first * SCOUT_FIRST)
        return min(self._default_first * HOLD, watch.poll_interval * 4)

    def _reschedule(self, watch: _Watch, now: float) -> None:
        if self._watches.get(watch.record_id) is not watch:
            return
        step = min(watch.step, watch.poll_interval)
        if watch.scout and len(self._samples) < LEARNT:
            age = now - watch.started
            self._schedule(watch, now + min(max(MIN_STEP, SCOUT_PRECISION * age), step))
            return
        jittered = step * (0.8 + 0.4 * random.random())
        watch.step = min(watch.step * 1.6, watch.poll_interval)
        self._schedule(watch, now + max(MIN_STEP, jittered))

    def _learn(self, watch: _Watch, status: RecordStatus, sent: float) -> None:
        server = _server_latency(status)
        if server is not None:
            self._sample(server)
        elif watch.last_pending is not None:
            self._sample((watch.last_pending + sent) / 2 - watch.started)
        else:
            self._sample(sent - watch.started)

    def _sample(self, seconds: float) -> None:
        """Learn one verification time. The checks not yet made move with what is
        learnt: at a scout's first lessons (the held records come forward at once), and
        whenever the estimate of the first check moves by more than a fifth."""
        self._samples.append(seconds)
        step: float | None = None
        if len(self._samples) < LEARNT:
            return
        else:
            first, step = self.estimate()
            known = self._estimated
            if known is not None and abs(first - known) <= 0.2 * known:
                return
            self._estimated = first
        now = time.monotonic()
        if self.feeding(now):
            return
        for other in list(self._watches.values()):
            if other.scout and step is not None:
                other.step = min(step, other.poll_interval)  # scouting is over
            if other.checks or other.in_flight or other.scout:
                continue
            if step is not None:
                other.step = min(step, other.poll_interval)
            due = max(now, other.started + min(first, other.poll_interval * 4))
            if step is not None or due < other.due:
                self._schedule(other, due)

    def _done(self, watch: _Watch) -> None:
        if self._watches.get(watch.record_id) is watch:
            del self._watches[watch.record_id]
        if watch.scout:
            watch.scout = False
            self._scouting -= 1

    def _settle(self, watch: _Watch, status: RecordStatus) -> None:
        self._done(watch)
        for future in watch.futures:
            if not future.done():
                future.set_result(status)

    def _fail(self, watch: _Watch, exc: BaseException) -> None:
        self._done(watch)
        for future in watch.futures:
            if not future.done():
                future.set_exception(exc)

    def _forget(self, watch: _Watch, future: asyncio.Future[RecordStatus]) -> None:
        with contextlib.suppress(ValueError):
            watch.futures.remove(future)
        if not watch.futures and self._watches.get(watch.record_id) is watch:
            self._done(watch)

    def _remember(self, record_id: str, status: RecordStatus) -> None:
        self._recent[record_id] = status
        self._recent.move_to_end(record_id)
        while len(self._recent) > RECENT:
            self._recent.popitem(last=False)


def _server_latency(status: RecordStatus) -> float | None:
    end = status.verified_at or status.failed_at
    if not status.created_at or not end:
        return None
    start_at, end_at = _instant(status.created_at), _instant(end)
    if start_at is None or end_at is None:
        return None
    seconds = (end_at - start_at).total_seconds()
    return seconds if seconds >= 0 else None


def _instant(text: object) -> datetime | None:
    """A server timestamp, as UTC when it names no zone (so two of them always subtract)."""
    if not isinstance(text, str):
        return None
    try:
        return parse_iso(text)
    except ValueError:
        return None


def _internal(watch: _Watch, exc: Exception) -> PacSpaceError:
    error = PacSpaceError(
        f"checking record {watch.record_id} failed ({type(exc).__name__}: {exc})",
        0,
        "STATUS_CHECK_FAILED",
    )
    error.__cause__ = exc
    return error
