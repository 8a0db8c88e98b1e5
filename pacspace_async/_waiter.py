"""Waiting for verification without one poll loop per record: the status-check scheduler.

A service that emits thousands of deltas and waits for each must not run thousands of
sleeping loops that each poll on a fixed interval: that is the official client's design,
and it costs about two status requests per delta and most of a poll interval of lag.

Here one watcher task per client owns every pending wait. It keeps one heap of what is
due (status checks and wait deadlines), keeps as many status requests in flight as
:class:`._concurrency.InFlightLimit` allows, shares one check between several waits on
the same record, and accepts outside news through :meth:`Waiter.resolve` (a verified
webhook delivery), which ends the waits at once. *When* to check is not decided here:
:class:`._polling.PollPolicy` says, from what it learnt.

Time comes from the injected ``clock`` and ``sleep`` (``time.monotonic`` and
``anyio.sleep`` by default), deadlines included, so tests run the schedule on a clock
they move by hand. The watcher runs on the loop of the waits (asyncio or trio), starts
with the first wait and ends when none is left and no check is in flight, so an idle
client runs nothing. Its status checks are tasks of its own task group.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import anyio
from anyio.abc import TaskGroup

from ._aio import Detached, Home
from ._concurrency import InFlightLimit
from ._errors import APIConnectionError, NotFoundError, PacSpaceError
from ._errors import TimeoutError as WaitTimeoutError
from ._outcome import DeadlinePassed, Outcome, check_failed
from ._polling import DEFAULT_FIRST_CHECK, FEED_WINDOW, PollPolicy, server_seconds
from ._retry import is_retryable
from .types import RecordStatus

__all__ = ["Waiter"]

log = logging.getLogger("pacspace")

RECENT = 4096
"""Settled records remembered, so that a wait starting after the news returns at once."""

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


@dataclass(eq=False)
class _Watch:
    record_id: str
    started: float
    poll_interval: float
    futures: list[Outcome] = field(default_factory=list)
    due: float = 0.0
    step: float = 0.0
    checks: int = 0
    last_pending: float | None = None
    in_flight: bool = False
    scout: bool = False
    generation: int = -1
    """The estimate its first check was planned on (``-1``: a scout's, a held or fed one)."""


class Waiter:
    """Multiplexes every verification wait of one client."""

    def __init__(
        self,
        fetch: Callable[[str], Awaitable[RecordStatus]],
        *,
        max_in_flight: int = 32,
        first_check: float = DEFAULT_FIRST_CHECK,
        policy: PollPolicy | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = anyio.sleep,
    ) -> None:
        self._fetch = fetch
        self.limit = InFlightLimit(max_in_flight)
        """How many checks go out at once (adapts to round trips, up to max_in_flight)."""
        self.policy = policy if policy is not None else PollPolicy(first_check)
        self._clock = clock
        self._sleep = sleep
        self._watches: dict[str, _Watch] = {}
        # Due times: (when, order, watch, None) is a status check, (when, order, watch,
        # outcome) that wait's deadline.
        self._heap: list[tuple[float, int, _Watch, Outcome | None]] = []
        self._order = itertools.count()
        self._recent: OrderedDict[str, RecordStatus] = OrderedDict()
        self._watcher: Detached | None = None
        self._wake: anyio.Event | None = None
        self._ready: deque[tuple[float, _Watch]] = deque()
        self._in_flight = 0
        self._last_feed: float | None = None
        self._scouting = 0
        self._scouts_started: float | None = None
        """When the first scout of a cold start started (until the estimate exists)."""
        self.status_requests = 0
        """Status requests sent so far (for benchmarks and tests)."""
        self.on_wait: Callable[[], object] | None = None
        """Called as a wait starts (the client's fleet delivery channel starts listening)."""

    # -- public -------------------------------------------------------------------

    @property
    def pending(self) -> int:
        return len(self._watches)

    def feeding(self, now: float | None = None) -> bool:
        """Whether webhook deliveries are flowing: then polling is only a fallback."""
        last = self._last_feed
        return last is not None and (self._clock() if now is None else now) - last < FEED_WINDOW

    def estimate(self) -> tuple[float, float]:
        """(first check delay, first step): see :meth:`PollPolicy.estimate`."""
        return self.policy.estimate()

    async def wait(
        self,
        record_id: str,
        *,
        timeout: float,  # noqa: ASYNC109 -- a deadline on the injected clock, in the heap
        poll_interval: float,
        started: float | None = None,
    ) -> RecordStatus:
        """Wait until ``record_id`` is ``VERIFIED`` or ``FAILED``; raise at ``timeout``."""
        known = self._recent.get(record_id)
        if known is not None:
            return known
        if self.on_wait is not None:
            self.on_wait()
        watch = self._watches.get(record_id)
        now = self._clock()
        if watch is None:
            watch = _Watch(record_id, started if started is not None else now, poll_interval)
            plan = self.policy.plan(
                poll_interval=poll_interval, feeding=self.feeding(now), scouting=self._scouting
            )
            watch.step = plan.step
            watch.generation = plan.generation
            if plan.scout:
                watch.scout = True
                self._scouting += 1
                if self._scouts_started is None:
                    self._scouts_started = watch.started
            self._watches[record_id] = watch
            self._push(watch, max(now, watch.started + plan.delay))
        else:
            watch.poll_interval = min(watch.poll_interval, poll_interval)
        future = Outcome()
        watch.futures.append(future)
        self._push(watch, now + timeout, future)
        self._ensure_running()
        try:
            return await future.get()
        except DeadlinePassed:
            raise WaitTimeoutError(
                f"Record {record_id} did not reach a terminal status within {timeout * 1000:.0f}ms",
                0,
                None,
                None,
            ) from None
        finally:
            self._forget(watch, future)

    def resolve(self, record_id: str, status: RecordStatus) -> bool:
        """Settle waits on ``record_id`` with news from outside (a webhook delivery).

        Returns whether a wait was pending. A later wait on the same record is answered
        at once from a small cache of recent results.
        """
        if not status.is_terminal:
            return False
        watcher = self._watcher
        if watcher is not None and not watcher.home.is_current():
            # Called from another thread (a web server's, under the sync facade): hand over.
            watcher.home.call_soon(self.resolve, record_id, status)
            return record_id in self._watches
        self._remember(record_id, status)
        now = self._clock()
        was_feeding = self.feeding(now)
        self._last_feed = now
        watch = self._watches.get(record_id)
        if watch is not None:
            self._learn(now - watch.started)
            self._settle(watch, status)
        if not was_feeding:
            # Deliveries just started flowing: push the other pending checks back.
            fallback = self.policy.fallback()
            for other in list(self._watches.values()):
                if not other.in_flight and other.due < other.started + fallback:
                    self._push(other, other.started + fallback)
        return watch is not None

    async def aclose(self) -> None:
        # In-flight status checks stop now (the watcher's task group is cancelled with
        # it): they would retry on a closed connection pool.
        watcher, self._watcher = self._watcher, None
        here = watcher is not None and watcher.home.is_current()
        if watcher is not None:
            watcher.cancel_from_anywhere()
        self._fail_all(PacSpaceError("The client is closed.", 0, "CLIENT_CLOSED"))
        if watcher is not None and here:
            await watcher.join()

    # -- the watcher ----------------------------------------------------------------

    def _fail_all(self, exc: PacSpaceError) -> None:
        for watch in list(self._watches.values()):
            for future in watch.futures:
                future.set_exception(exc)
        self._watches.clear()
        self._scouting = 0
        self._heap.clear()
        self._ready.clear()

    def _ensure_running(self) -> None:
        if self._watcher is None or self._watcher.done():
            home = Home.current()
            assert home is not None, "wait() runs in a task"
            self._wake = anyio.Event()
            self._watcher = home.spawn(self._run, "pacspace-waiter")
        else:
            assert self._wake is not None
            self._wake.set()

    def _push(self, watch: _Watch, due: float, future: Outcome | None = None) -> None:
        """CheckSchedule ``watch``'s next check at ``due`` (replacing the one scheduled), or,
        with ``future``, that wait's deadline."""
        if future is None:
            watch.due = due
        heapq.heappush(self._heap, (due, next(self._order), watch, future))
        if self._wake is not None:
            self._wake.set()

    async def _run(self) -> None:
        try:
            async with anyio.create_task_group() as checks:
                await self._watch(checks)
        except Exception as exc:  # a bug: fail the waits now, not at their timeouts
            log.exception("pacspace: the status-check scheduler failed")
            self._watcher = None
            self._fail_all(check_failed("the status-check scheduler", exc))

    async def _watch(self, checks: TaskGroup) -> None:
        assert self._wake is not None
        wake = self._wake
        ready = self._ready
        while True:
            now = self._clock()
            while self._heap and self._heap[0][0] <= now:
                due, _, watch, deadline = heapq.heappop(self._heap)
                if deadline is not None:
                    deadline.set_exception(DeadlinePassed())
                elif self._current(watch, due):
                    ready.append((due, watch))
            # Due checks go out in due order, at most the limit at a time; the rest
            # wait here for a slot, while deadlines keep firing on time.
            while ready and self._in_flight < self.limit.current:
                due, watch = ready.popleft()
                if self._current(watch, due):
                    watch.in_flight = True
                    self._in_flight += 1
                    checks.start_soon(self._check, watch)
            self._wake = wake = anyio.Event()
            if not self._watches:
                # Every deadline and check left in the heap belongs to a settled wait.
                self._heap.clear()
                ready.clear()
                if not self._in_flight:
                    break
                await wake.wait()  # until the checks in flight have answered (and taught)
                continue
            if len(self._heap) > 4 * len(self._watches) + 1024:
                self._compact()
            delay = self._heap[0][0] - self._clock() if self._heap else None
            if delay is None or delay > 0:
                await self._idle(wake, delay)
        self._watcher = None  # the next wait starts a new watcher

    def _current(self, watch: _Watch, due: float) -> bool:
        """Whether a check due at ``due`` is still the one ``watch`` wants."""
        return (
            watch.due == due and not watch.in_flight and self._watches.get(watch.record_id) is watch
        )

    def _compact(self) -> None:
        """Drop what settled waits left in the heap (their deadlines, stale checks)."""
        self._heap = [
            entry
            for entry in self._heap
            if (entry[3] is not None and not entry[3].done())
            or (entry[3] is None and self._watches.get(entry[2].record_id) is entry[2])
        ]
        heapq.heapify(self._heap)

    async def _idle(self, wake: anyio.Event, delay: float | None) -> None:
        """Until ``delay`` has passed on the injected clock, or something is scheduled."""
        if delay is None:
            await wake.wait()
            return
        if self._sleep is anyio.sleep:  # real time: a deadline on the wait is enough
            with anyio.move_on_after(delay):
                await wake.wait()
            return
        async with anyio.create_task_group() as both:

            async def sleep() -> None:
                await self._sleep(delay)
                both.cancel_scope.cancel()

            both.start_soon(sleep)
            await wake.wait()
            both.cancel_scope.cancel()

    async def _check(self, watch: _Watch) -> None:
        sent = self._clock()
        try:
            self.status_requests += 1
            status = await self._fetch(watch.record_id)
            answered = self._clock()
            self.limit.answered(answered - sent, self._in_flight, answered)
        except PacSpaceError as exc:
            # A record may not be readable for a moment after emit: a few 404s are "not yet".
            not_yet = isinstance(exc, NotFoundError) and watch.checks < 3
            if not (is_retryable(exc) or not_yet or isinstance(exc, APIConnectionError)):
                self._fail(watch, exc)
                return
            log.debug("status check for %s failed (%s); trying again", watch.record_id, exc.code)
            self._reschedule(watch, self._clock())
            return
        except Exception as exc:  # a bug or an unexpected answer: fail the waits, loudly
            self._fail(watch, check_failed(f"checking record {watch.record_id}", exc))
            return
        finally:
            watch.in_flight = False
            watch.checks += 1
            self._in_flight -= 1
            if self._wake is not None:
                self._wake.set()  # a slot is free
        try:
            if watch.generation >= 0 and watch.checks == 1:
                self.policy.first_check_found(watch.generation, status.is_terminal)
            if status.is_terminal:
                self._remember(watch.record_id, status)
                scout = watch.scout
                self._settle(watch, status)
                server = server_seconds(status)
                if self.policy.teaches(timestamped=server is not None, scout=scout):
                    self._learn(
                        self.policy.observed(watch.started, sent, watch.last_pending, server)
                    )
            else:
                watch.last_pending = sent
                self._reschedule(watch, self._clock())
        except Exception as exc:  # never strand a wait: it fails now, not at its timeout
            self._fail(watch, check_failed(f"checking record {watch.record_id}", exc))

    def _reschedule(self, watch: _Watch, now: float) -> None:
        if self._watches.get(watch.record_id) is not watch:
            return
        delay, watch.step = self.policy.next_check(
            age=now - watch.started,
            step=watch.step,
            poll_interval=watch.poll_interval,
            scout=watch.scout,
        )
        self._push(watch, now + delay)

    def _learn(self, seconds: float) -> None:
        """Tell the policy; when its estimate moved, move every check not yet made (the
        held records come forward at the scouts' first lessons)."""
        now = self._clock()
        cold = not self.policy.learnt
        if not self.policy.learn(seconds, now):
            return
        if self.feeding(now):
            return
        started = self._scouts_started
        scouts_age = now - started if cold and started is not None else None
        self._scouts_started = None
        step = self.policy.estimate()[1]
        for other in list(self._watches.values()):
            if other.scout:
                other.step = min(step, other.poll_interval)  # scouting is over
            if other.checks or other.in_flight or other.scout:
                continue
            other.step = min(step, other.poll_interval)
            first = self.policy.brought_forward(other.poll_interval, scouts_age)
            self._push(other, max(now, other.started + first))

    def _done(self, watch: _Watch) -> None:
        if self._watches.get(watch.record_id) is watch:
            del self._watches[watch.record_id]
        if watch.scout:
            watch.scout = False
            self._scouting -= 1

    def _settle(self, watch: _Watch, status: RecordStatus) -> None:
        self._done(watch)
        for future in watch.futures:
            future.set_result(status)

    def _fail(self, watch: _Watch, exc: BaseException) -> None:
        self._done(watch)
        for future in watch.futures:
            future.set_exception(exc)

    def _forget(self, watch: _Watch, future: Outcome) -> None:
        with contextlib.suppress(ValueError):
            watch.futures.remove(future)
        if not watch.futures and self._watches.get(watch.record_id) is watch:
            self._done(watch)

    def _remember(self, record_id: str, status: RecordStatus) -> None:
        self._recent[record_id] = status
        self._recent.move_to_end(record_id)
        while len(self._recent) > RECENT:
            self._recent.popitem(last=False)
