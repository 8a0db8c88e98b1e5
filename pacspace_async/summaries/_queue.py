"""The summary queue: the documented ``queue_summary``/``flush_summaries``, meters, and close.

Semantics follow pacspace-sdk where they are safe (see the README for every difference):
an unsent summary for the same customer, **reason** and window is replaced by a later one
from the same producer; a caller's ``referenceId`` is used as given; without one, the
store mints one that names the aggregate (:mod:`._identity`). The queue is bounded
(``maxQueued``, policy ``onFull``: ``"raise"``, ``"block"`` or ``"drop"`` with a callback
and a counter): never a silent drop.

Closing loses nothing: meters are journaled, the open windows' partials sealed as slices
of their own, and everything delivered within ``shutdownTimeoutMs``; what cannot be sent
stays in an outbox, or is reported lost (WARNING with counts) in memory. A process that
exits without closing does the same at interpreter exit (an outbox keeps its summaries
for the next start instead of sending them).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import anyio

from .._aio import Home
from .._errors import OutboxError, PacSpaceError
from ..types import CloseReport, DeadLetter, FlushResult, QueuedSummary, QueueState
from ._close_report import close_report
from ._flush import Flusher, Submit, run_io
from ._flush_scheduler import IDLE_TICK, FlushScheduler
from ._identity import after_fork, new_token
from ._meter import Meter
from ._per_process import PerProcess
from ._pool_exit import at_pool_exit
from ._settings import SubmissionOptions
from ._stores import Record, Refused, Store, open_store
from ._summary import as_model, iso, normalize

__all__ = ["QueueFullError", "SummaryQueue"]

log = logging.getLogger("pacspace")

CLOSE_POLL = 0.05
"""How often a close looks whether another sender has delivered its summaries (seconds)."""


class QueueFullError(PacSpaceError):
    default_code = "SUMMARY_QUEUE_FULL"


class SummaryQueue:
    def __init__(
        self,
        options: SubmissionOptions,
        submit: Submit,
        *,
        owner: str,
        exit_submit: Callable[[], tuple[Submit, Callable[[], Any]]] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.options = options
        self._submit = submit
        self._exit_submit = exit_submit
        self._clock = clock
        self.store: Store = open_store(options.outbox, owner, max_attempts=options.max_attempts)
        self._flusher = Flusher(options, self.store)
        self._scheduler = FlushScheduler(
            cadence=options.cadence_ms / 1000,
            immediate=options.profile == "immediate",
            clock=clock,
            tick=self._tick,
            flush=self._scheduled_flush,
            has_pending=lambda: self.store.count() > 0,
            interval=lambda: options.journal_interval if self._meters else IDLE_TICK,
        )
        self._room = PerProcess(lambda: threading.Condition())
        self._meters: list[Meter] = []
        self._record_ready = False
        self._lost: list[Record] = []
        """Rows a store could keep neither as usage nor as a dead letter (logged)."""
        self._dead_made = 0
        """Dead letters this process made (refused summaries, rows a store refused)."""
        self.dropped = 0
        self._depth = 0
        self.revive: Callable[[], object] | None = None
        """Set by ``pacspace_sync``: brings a client back in a forked child."""
        self._reset_process_state()
        after_fork(self)

    def _reset_process_state(self) -> None:
        self.producer = new_token()
        self._flush_lock: anyio.Lock | None = None
        self._closed = False

    def _after_fork_in_child(self) -> None:
        self._reset_process_state()
        self._scheduler.after_fork()

    @property
    def home(self) -> Home | None:
        """The loop the client lives on (its scheduler starts there)."""
        return self._scheduler.home

    @home.setter
    def home(self, home: Home | None) -> None:
        self._scheduler.home = home

    # -- queueing (any thread, no await) -------------------------------------------

    def queue(self, summary: Mapping[str, Any]) -> QueuedSummary:
        draft = normalize(
            summary,
            default_reason=self.options.default_reason,
            cadence_ms=self.options.cadence_ms,
            now=self._clock(),
        )
        full = (
            not self.store.has_open(self.producer, draft)
            and self.store.count() >= self.options.max_queued
        )
        if full and not self._make_room(as_model(dict, draft)):
            return as_model(QueuedSummary, draft)
        stored = self.store.put(draft, self.producer)
        _HOLDING.add(self)
        self._autostart()
        if self.options.profile == "immediate":
            self._scheduler.poke()
        return as_model(QueuedSummary, stored)

    def _autostart(self) -> None:
        if self.options.auto_start and not self._scheduler.is_running:
            with contextlib.suppress(PacSpaceError):  # no loop yet: flush, close or exit sends
                self._scheduler.start()

    def _make_room(self, item: dict[str, Any]) -> bool:
        policy = self.options.on_full
        if policy == "drop":
            self.dropped += 1
            assert self.options.on_drop is not None
            self.options.on_drop(item)
            return False
        if policy == "block" and not self._on_loop_thread():
            self._scheduler.poke()
            deadline = time.monotonic() + self.options.block_timeout
            room = self._room.get()
            with room:
                while self.store.count() >= self.options.max_queued:
                    left = deadline - time.monotonic()
                    if left <= 0 or not room.wait(left):
                        break
            if self.store.count() < self.options.max_queued:
                return True
        raise QueueFullError(
            f"The summary queue is full ({self.options.max_queued} summaries); flush it, raise "
            "maxQueued, or choose onFull='block' or 'drop'.",
        )

    def _on_loop_thread(self) -> bool:
        home = self._scheduler.loop
        return home is not None and home.is_current()

    # -- meters -------------------------------------------------------------------------

    def meter(self, window: str, reason: str) -> Meter:
        meter = Meter(self, window=window, reason=reason, clock=self._clock)
        self.adopt(meter)
        return meter

    def adopt(self, meter: Meter) -> None:
        """Report ``meter``'s usage through this queue (its scheduler starts if allowed)."""
        meter._sink = self
        self._meters.append(meter)
        _HOLDING.add(self)
        self._autostart()
        self._scheduler.poke()

    def take_meters(self) -> list[Meter]:
        meters, self._meters = self._meters, []
        _HOLDING.discard(self)
        return meters

    def meter_forked(self) -> None:
        """A meter's first add in a forked child: bring a client back to send it."""
        if self.revive is not None:
            self.revive()
        else:
            self._autostart()

    def journal(self) -> int:
        """Move every meter's new usage into the store (blocking); returns the rows moved.

        A row the store refuses becomes a dead letter there and never stops the others;
        when the store cannot be used at all, everything is counted again in the meters
        (an ``OutboxError`` is raised) and the next tick tries again."""
        rows: list[tuple[Meter, list[Record]]] = [(m, m.take()) for m in list(self._meters)]
        moved = 0
        try:
            for index, (meter, taken) in enumerate(rows):
                if taken:
                    refused = self.store.journal(taken, self.producer)
                    moved += len(taken) - len(refused)
                    self._refused(refused)
                rows[index] = (meter, [])
        finally:
            for meter, taken in rows:  # what could not be stored is counted again
                if taken:
                    meter.give_back(taken)
        return moved

    def _refused(self, refused: list[Refused]) -> None:
        """Rows the store refused: dead letters there, or (when even that failed) lost."""
        if not refused:
            return
        buried = [r for r in refused if r.buried]
        lost = [r for r in refused if not r.buried]
        self._dead_made += len(buried)
        self._lost.extend(r.row for r in lost)
        for rows, what in ((buried, "moved to the dead letters"), (lost, "lost")):
            if rows:
                log.error(
                    "pacspace: %s refused %d usage rows (total %s), %s: %s",
                    self.store.location,
                    len(rows),
                    sum((r.row.delta for r in rows), Decimal(0)),
                    what,
                    rows[0].reason,
                )

    @property
    def _grace(self) -> float:
        """How long after a window ends it is sealed: in a shared store, two ticks, so that
        every process's last journal of the window joins the same slice."""
        return 2 * self.options.journal_interval if self.store.durable else 0.0

    async def _tick(self, now: float) -> None:
        if self._meters:
            await run_io(self.store, self.journal)
            await run_io(self.store, _seal, self.store, now - self._grace, None, False)

    # Meter.record support (PostgreSQL outbox only).

    @property
    def location(self) -> str | None:
        return self.store.location

    def record_statement(self, row: Record) -> tuple[str, tuple[Any, ...]]:
        return self.store.record_statement(row)

    def ready_for_record_blocking(self) -> None:
        if not self._record_ready:
            self.store.ensure_ready()
            self._record_ready = True

    async def ready_for_record(self) -> None:
        if not self._record_ready:
            await run_io(self.store, self.ready_for_record_blocking)

    # -- flushing (on the loop) -------------------------------------------------------

    async def flush(self, max_items: int | None = None) -> FlushResult:
        """Send everything now: journal meters, seal ended windows, this process's open
        windows (as partial slices) and queued summaries, deliver. What is not delivered
        is in the result (``failed``, ``queuedAfterFlush``)."""
        return await self._locked_flush(max_items, self.producer if self._meters else None)

    async def _scheduled_flush(self) -> FlushResult:
        """The cadence's flush: windows that have ended only (an open window is sent once,
        when it ends, not sliced at every flush)."""
        return await self._locked_flush(None, None)

    async def _locked_flush(self, max_items: int | None, producer: str | None) -> FlushResult:
        if self._flush_lock is None:
            self._flush_lock = anyio.Lock()
        async with self._flush_lock:
            return await self._flush(max_items, None, producer=producer)

    async def _flush(
        self, max_items: int | None, submit: Submit | None, *, producer: str | None
    ) -> FlushResult:
        await run_io(self.store, self.journal)
        until = self._clock() - (0.0 if producer else self._grace)
        await run_io(self.store, _seal, self.store, until, producer, True)
        try:
            result = await self._flusher.deliver(submit or self._submit, max_items)
            self._depth = result.queued_after_flush
            self._dead_made += result.dead_lettered
            return result
        finally:
            room = self._room.get()
            with room:
                room.notify_all()

    @property
    def depth(self) -> int:
        """Summaries not yet delivered, for the gauges: counted in memory, or as the
        outbox held after the last flush (a gauge never queries a database)."""
        if not self.store.blocking:
            return self.store.count()
        return self._depth

    # -- the scheduler -------------------------------------------------------------------

    @property
    def is_running(self) -> bool:
        return self._scheduler.is_running

    def start(self) -> None:
        self._scheduler.start()

    def stop(self) -> None:
        self._scheduler.stop()

    async def shutdown(self) -> FlushResult | None:
        """Stop the scheduler and flush what is queued (bounded in time)."""
        await self._scheduler.stop_and_wait()
        try:
            with anyio.fail_after(self.options.shutdown_timeout):
                return await self.flush()
        except TimeoutError:
            log.warning(
                "summary flush at shutdown timed out; %d summaries stay queued", self.store.count()
            )
            return None

    async def aclose(self) -> CloseReport:
        """Close: journal, seal this process's open windows, deliver (bounded), report."""
        if self._closed:
            return CloseReport(outbox=self.store.location)
        self._closed = True
        await self._scheduler.stop_and_wait()
        flushed: FlushResult | None = None
        error: str | None = None
        try:
            if self.options.auto_flush:
                if self._flush_lock is None:
                    self._flush_lock = anyio.Lock()
                async with self._flush_lock:
                    with anyio.fail_after(self.options.shutdown_timeout):
                        flushed = await self._delivered_at_close()
            else:
                await run_io(self.store, self._keep)
        except TimeoutError:
            error = f"delivery did not finish within {self.options.shutdown_timeout:g} s"
        except PacSpaceError as exc:  # an OutboxError: the summaries stay where they are
            error = str(exc)
        try:
            return self._report(flushed, error)
        finally:
            _HOLDING.discard(self)
            self.store.close()

    async def _delivered_at_close(self) -> FlushResult:
        """Deliver, then wait while another process of a shared outbox is sending this
        one's summaries (they were locked to it as this one looked): the report then says
        what became of them, not what was in flight. Bounded by ``shutdownTimeoutMs``."""
        flushed = await self._flush(None, None, producer=self.producer)
        while self.store.durable and not flushed.failed:
            stats = await run_io(self.store, self.store.stats, self.producer)
            if not stats.own_summaries or not stats.sending:
                break
            await anyio.sleep(CLOSE_POLL)
            flushed = await self._flush(None, None, producer=self.producer)
        return flushed

    def _keep(self) -> None:
        """Journal meters and seal this producer's open windows into the store, no sending
        (and, with no meter, touch nothing: ``pacspace outbox list`` closes this way)."""
        if self._meters:
            self.journal()
            _seal(self.store, 0.0, self.producer, False)

    def _report(self, flushed: FlushResult | None, error: str | None) -> CloseReport:
        unjournaled = [row for meter in self._meters for row in meter.pending()]
        return close_report(
            self.store,
            self.producer,
            unjournaled + self._lost,
            dead_made=bool(self._dead_made),
            flushed=flushed,
            error=error,
        )

    async def dead_letters(self, limit: int) -> list[DeadLetter]:
        stored = await run_io(self.store, self.store.dead_letters, limit)
        return [as_model(DeadLetter, item) for item in stored]

    async def retry_dead(self, ids: list[int] | None) -> int:
        return await run_io(self.store, self.store.retry_dead, ids)

    def state(self) -> QueueState:
        """Where the queue stands (read only: nothing is journaled, sealed or sent)."""
        next_flush = None
        if self.is_running and self._scheduler.next_flush is not None:
            next_flush = iso(datetime.fromtimestamp(self._scheduler.next_flush, timezone.utc))
        stats = self.store.stats(self.producer)
        pacer = self._flusher.pacer
        return QueueState.model_validate(
            {
                "profile": self.options.profile,
                "cadenceMs": self.options.cadence_ms,
                "enterprise": self.options.enterprise,
                "queuedCount": stats.open + stats.pending,
                "isRunning": self.is_running,
                "nextFlushAt": next_flush,
                "maxQueued": self.options.max_queued,
                "dropped": self.dropped,
                "deadLetters": stats.dead,
                "outbox": self.store.location,
                "usageRows": stats.usage,
                "openCount": stats.open,
                "pendingCount": stats.pending,
                "sendingCount": stats.sending,
                "oldestUsageSeconds": stats.oldest_usage,
                "oldestSummarySeconds": stats.oldest_summary,
                "oldestDeadSeconds": stats.oldest_dead,
                "requestsPerMinute": pacer.per_minute,
                "pacedByService": pacer.told_by_service,
                "maxDeltasPerRequest": self.options.max_per_request,
            }
        )

    # -- interpreter exit -----------------------------------------------------------------

    def flush_at_exit(self) -> None:
        """Not closed at exit: keep (outbox) or send through a fresh connection (memory)."""
        if self._closed or not (self._meters or self.store.count() or self.store.stats().usage):
            return
        if self.store.durable or not self.options.auto_flush:
            try:
                self._keep()
            except OutboxError as exc:
                log.warning("pacspace: at exit: %s", exc)
            self._report(None, None)
            self._closed = True
            return
        if self._exit_submit is None:
            return
        submit, close = self._exit_submit()

        async def run() -> FlushResult:
            try:
                return await asyncio.wait_for(
                    self._flush(None, submit, producer=self.producer),
                    self.options.shutdown_timeout,
                )
            finally:
                await close()

        flushed, error = None, None
        try:
            flushed = asyncio.run(run())
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
        self._closed = True
        self._report(flushed, error)


def _seal(store: Store, until: float, producer: str | None, queued: bool) -> int:
    return store.seal(until=until, producer=producer, queued=queued)


_HOLDING: set[SummaryQueue] = set()
"""Queues that hold usage and were not closed: at exit, each is journaled and sent
(memory) or kept (outbox). Held strongly, so a client dropped unclosed is not lost."""


@atexit.register
def _at_exit() -> None:
    for queue in list(_HOLDING):
        try:
            queue.flush_at_exit()
        except Exception:
            log.exception("pacspace: summary flush at exit failed")


class _PoolExit:
    """The owner of the pool-exit hook (the pools keep it by weak reference)."""


_POOL_EXIT = _PoolExit()

if hasattr(os, "register_at_fork"):
    # A pool's process (Celery prefork, multiprocessing) exits without atexit: the same
    # exit work runs as one of the pool's finalizers instead, for every queue holding
    # usage there (the child's own clients, built after the fork, included).
    os.register_at_fork(after_in_child=lambda: at_pool_exit(_POOL_EXIT, _at_exit))
