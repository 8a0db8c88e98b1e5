"""The summary queue: bounded, paced, flushed in batches, scheduled on the client's loop.

Semantics follow the official client (``submission={...}`` with its option names):
profiles ``daily`` (default, 24 h cadence), ``sub_daily`` (6 h) and ``immediate``, the
last two for enterprise accounts only; batches of at most ``maxDeltasPerRequest`` (≤ 100)
through the batch endpoint with the metadata ``summaryWindowStart``,
``summaryWindowEnd``, ``summaryProfile`` and ``submissionType: "tenant_summary"``; at most
``maxRequestsPerMinute`` batch requests a minute. Summaries the server refuses stay
queued with their reason; a ``CADENCE_LIMIT`` is waited out (up to
:data:`CADENCE_RETRIES` times per batch).

Added here: ``outbox`` (a SQLite path: see :mod:`._store`), and a bound, ``maxQueued``
(default :data:`DEFAULT_MAX_QUEUED`), with the policy ``onFull``: ``"raise"`` (default:
:class:`QueueFullError`), ``"block"`` (wait up to ``blockTimeoutMs`` for a flush to make
room; only from a thread other than the client's loop), or ``"drop"`` (call ``onDrop``
with the summary and count it in ``dropped``). Never a silent drop.

The scheduler is a task on the client's event loop; it also hands closed meter windows
to the queue. On ``aclose`` the queue is flushed (``autoFlushOnShutdown``, bounded by
:data:`SHUTDOWN_FLUSH_TIMEOUT`); a process that exits without closing flushes an
in-memory queue at interpreter exit through a fresh connection, bounded the same way.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import hashlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timezone
from typing import Any

from anyio import sleep

from .. import _json
from .._aio import running_loop
from .._errors import CadenceLimitError, PacSpaceError, ValidationError
from ..types import BatchResult, FlushResult, QueuedSummary, QueueState
from ._store import MemoryStore, OutboxStore, Store
from ._summary import iso, normalize

__all__ = ["QueueFullError", "SummaryQueue", "SubmissionOptions"]

log = logging.getLogger("pacspace")

PROFILE_CADENCE_MS = {"daily": 86_400_000, "sub_daily": 21_600_000, "immediate": 0}
DEFAULT_MAX_QUEUED = 10_000
CADENCE_RETRIES = 3
SHUTDOWN_FLUSH_TIMEOUT = 10.0
TICK = 60.0
"""The scheduler looks at meters and the clock at least this often (seconds)."""

Submit = Callable[[list[dict[str, Any]], str], Awaitable[BatchResult]]


class QueueFullError(PacSpaceError):
    default_code = "SUMMARY_QUEUE_FULL"


class SubmissionOptions:
    """``submission={...}``, validated once."""

    KEYS = frozenset(
        {
            "profile",
            "cadenceMs",
            "maxDeltasPerRequest",
            "maxRequestsPerMinute",
            "autoStart",
            "autoFlushOnShutdown",
            "defaultReason",
            "enterprise",
            "outbox",
            "maxQueued",
            "onFull",
            "blockTimeoutMs",
            "onDrop",
        }
    )

    def __init__(self, options: Mapping[str, Any] | None) -> None:
        options = dict(options or {})
        unknown = set(options) - self.KEYS
        if unknown:
            name = sorted(unknown)[0]
            raise ValidationError(f"unknown submission option {name!r}", field=name)
        self.profile = str(options.get("profile", "daily"))
        if self.profile not in PROFILE_CADENCE_MS:
            raise ValidationError(
                f"profile must be daily, sub_daily or immediate, not {self.profile!r}",
                field="profile",
            )
        self.enterprise = bool(options.get("enterprise", False))
        if self.profile != "daily" and not self.enterprise:
            raise ValidationError(
                f'Submission profile "{self.profile}" is enterprise-only. Set enterprise=True to enable it.',
                0,
                "INVALID_SUBMISSION_PROFILE",
                field="profile",
            )
        self.cadence_ms = max(0, int(options.get("cadenceMs", PROFILE_CADENCE_MS[self.profile])))
        if self.profile != "immediate" and self.cadence_ms <= 0:
            raise ValidationError(
                f'Submission profile "{self.profile}" requires cadenceMs > 0.',
                0,
                "INVALID_SUBMISSION_PROFILE",
                field="cadenceMs",
            )
        self.max_per_request = min(100, max(1, int(options.get("maxDeltasPerRequest", 100))))
        self.max_per_minute = max(1, int(options.get("maxRequestsPerMinute", 10)))
        self.auto_start = bool(options.get("autoStart", True))
        self.auto_flush = bool(options.get("autoFlushOnShutdown", True))
        self.default_reason = str(options.get("defaultReason", "usage_summary"))
        self.outbox: str | None = options.get("outbox")
        self.max_queued = int(options.get("maxQueued", DEFAULT_MAX_QUEUED))
        if self.max_queued < 1:
            raise ValidationError("maxQueued must be at least 1", field="maxQueued")
        self.on_full = str(options.get("onFull", "raise"))
        if self.on_full not in ("raise", "block", "drop"):
            raise ValidationError("onFull must be raise, block or drop", field="onFull")
        self.block_timeout = float(options.get("blockTimeoutMs", 30_000)) / 1000
        self.on_drop: Callable[[dict[str, Any]], None] | None = options.get("onDrop")
        if self.on_full == "drop" and not callable(self.on_drop):
            raise ValidationError('onFull="drop" needs an onDrop callback', field="onDrop")


class SummaryQueue:
    def __init__(
        self,
        options: SubmissionOptions,
        submit: Submit,
        *,
        exit_submit: Callable[[], tuple[Submit, Callable[[], Awaitable[None]]]] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.options = options
        self._submit = submit
        self._exit_submit = exit_submit
        self._clock = clock
        self._store: Store = OutboxStore(options.outbox) if options.outbox else MemoryStore()
        self._room = threading.Condition()
        self._flush_lock: asyncio.Lock | None = None
        self._last_request = 0.0
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._next_flush: float | None = None
        self._meters: list[Any] = []
        self.dropped = 0
        self._exit_hook = False
        self.home_loop: asyncio.AbstractEventLoop | None = None

    # -- queueing (any thread, no await) -------------------------------------------

    def queue(self, summary: Mapping[str, Any]) -> QueuedSummary:
        item = normalize(
            summary,
            default_reason=self.options.default_reason,
            cadence_ms=self.options.cadence_ms,
            now=self._clock(),
        )
        full = not self._store.has(item["key"]) and self._store.count() >= self.options.max_queued
        if full and not self._make_room(item):
            return QueuedSummary.model_validate(item)
        self._store.put(item)
        self._ensure_exit_hook()
        if self.options.profile == "immediate":
            self._poke()
        elif self.options.auto_start and not self.is_running:
            with contextlib.suppress(PacSpaceError):  # no loop yet: flush explicitly, or later
                self.start()
        return QueuedSummary.model_validate(item)

    def _make_room(self, item: dict[str, Any]) -> bool:
        policy = self.options.on_full
        if policy == "drop":
            self.dropped += 1
            assert self.options.on_drop is not None
            self.options.on_drop(item)
            return False
        if policy == "block" and not self._on_loop_thread():
            self._poke()
            deadline = time.monotonic() + self.options.block_timeout
            with self._room:
                while self._store.count() >= self.options.max_queued:
                    left = deadline - time.monotonic()
                    if left <= 0 or not self._room.wait(left):
                        break
            if self._store.count() < self.options.max_queued:
                return True
        raise QueueFullError(
            f"The summary queue is full ({self.options.max_queued} summaries); flush it, raise "
            "maxQueued, or choose onFull='block' or 'drop'.",
        )

    def _on_loop_thread(self) -> bool:
        loop = self._loop or self.home_loop
        return loop is not None and running_loop() is loop

    # -- flushing (on the loop) -------------------------------------------------------

    async def flush(self, max_items: int | None = None) -> FlushResult:
        if self._flush_lock is None:
            self._flush_lock = asyncio.Lock()
        async with self._flush_lock:
            return await self._flush(max_items)

    async def _flush(self, max_items: int | None, submit: Submit | None = None) -> FlushResult:
        submit = submit or self._submit
        started = _now_iso()
        self.close_meter_windows()
        selected = self._store.pending(max_items)
        failures: list[dict[str, Any]] = []
        submitted = replayed = requests = 0
        size = self.options.max_per_request
        for begin in range(0, len(selected), size):
            chunk = selected[begin : begin + size]
            payload = [self._wire(item) for item in chunk]
            # The same batch sent again (after a crash, say) carries the same key.
            key = "psk_sum_" + hashlib.sha256(_json.dumps(payload).encode()).hexdigest()[:40]
            try:
                result, sent = await self._send(submit, payload, key)
                requests += sent
            except PacSpaceError as exc:
                requests += 1
                for item in chunk:
                    self._store.fail(item, str(exc))
                    failures.append(_failure(item, str(exc)))
                continue
            by_index = {r.index: r for r in result.results}
            acked = []
            for index, item in enumerate(chunk):
                answer = by_index.get(index)
                if answer is None or answer.status == "FAILED":
                    error = (
                        answer.error if answer is not None else None
                    ) or "no result for this summary"
                    self._store.fail(item, error)
                    failures.append(_failure(item, error))
                    continue
                submitted += 1
                replayed += bool(answer.idempotent)
                acked.append(item)
            self._store.ack(acked)
            with self._room:
                self._room.notify_all()
        return FlushResult.model_validate(
            {
                "profile": self.options.profile,
                "startedAt": started,
                "finishedAt": _now_iso(),
                "attempted": len(selected),
                "submitted": submitted,
                "accepted": submitted,
                "failed": len(failures),
                "replayed": replayed,
                "requestCount": requests,
                "queuedAfterFlush": self._store.count(),
                "failures": failures,
            }
        )

    async def _send(
        self, submit: Submit, payload: list[dict[str, Any]], key: str
    ) -> tuple[BatchResult, int]:
        for attempt in range(CADENCE_RETRIES + 1):
            await self._pace()
            try:
                return await submit(payload, key), attempt + 1
            except CadenceLimitError as exc:
                if attempt == CADENCE_RETRIES:
                    raise
                wait = exc.retry_after if exc.retry_after is not None else 60.0
                log.info("summary cadence limit: waiting %.1fs", wait)
                await sleep(wait)
        raise AssertionError("unreachable")

    async def _pace(self) -> None:
        interval = 60.0 / self.options.max_per_minute
        wait = self._last_request + interval - time.monotonic()
        if wait > 0 and self._last_request:
            await sleep(wait)
        self._last_request = time.monotonic()

    def _wire(self, item: dict[str, Any]) -> dict[str, Any]:
        return {
            "customerId": item["customerId"],
            "delta": item["delta"],
            "reason": item["reason"],
            "referenceId": item["referenceId"],
            "metadata": {
                "summaryWindowStart": item["windowStart"],
                "summaryWindowEnd": item["windowEnd"],
                "summaryProfile": self.options.profile,
                "submissionType": "tenant_summary",
                **(item.get("metadata") or {}),
            },
        }

    # -- meters -------------------------------------------------------------------------

    def add_meter(self, meter: Any) -> None:
        self._meters.append(meter)

    def close_meter_windows(self) -> int:
        return sum(meter.close_windows() for meter in self._meters)

    # -- the scheduler -------------------------------------------------------------------

    @property
    def is_running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Start the scheduler on the client's loop (from that loop, or any other thread)."""
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
        self._next_flush = self._clock() + self.options.cadence_ms / 1000
        self._task = loop.create_task(self._run(), name="pacspace-summaries")

    def stop(self) -> None:
        task, self._task = self._task, None
        self._next_flush = None
        if task is not None and not task.done():
            loop = task.get_loop()
            if running_loop() is loop:
                task.cancel()
            else:
                loop.call_soon_threadsafe(task.cancel)

    def _poke(self) -> None:
        if self._wake is None or self._loop is None:
            if self.options.auto_start:
                with contextlib.suppress(PacSpaceError):
                    self.start()
            return
        if running_loop() is self._loop:
            self._wake.set()
        else:
            self._loop.call_soon_threadsafe(self._wake.set)

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            now = self._clock()
            due = self._next_flush is not None and now >= self._next_flush
            if due or (self.options.profile == "immediate" and self._store.count()):
                try:
                    await self.flush()
                except Exception:  # keep the scheduler alive; the items stay queued
                    log.exception("scheduled summary flush failed")
                self._next_flush = self._clock() + self.options.cadence_ms / 1000
            else:
                self.close_meter_windows()
            wait = (
                TICK
                if self._next_flush is None
                else min(TICK, max(0.0, self._next_flush - self._clock()))
            )
            self._wake.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)

    async def shutdown(self) -> FlushResult | None:
        """Stop the scheduler and flush what is queued (bounded in time)."""
        self.stop()
        self.close_meter_windows()
        if not self._store.count():
            return None
        try:
            return await asyncio.wait_for(self.flush(), SHUTDOWN_FLUSH_TIMEOUT)
        except asyncio.TimeoutError:
            log.warning(
                "summary flush at shutdown timed out; %d summaries stay queued", self._store.count()
            )
            return None

    async def aclose(self) -> None:
        if self.options.auto_flush:
            await self.shutdown()
        else:
            self.stop()
        self._exit_hook = False
        self._store.close()

    def state(self) -> QueueState:
        next_flush = None
        if self.is_running and self._next_flush is not None:
            next_flush = iso(datetime.fromtimestamp(self._next_flush, timezone.utc))
        return QueueState.model_validate(
            {
                "profile": self.options.profile,
                "cadenceMs": self.options.cadence_ms,
                "enterprise": self.options.enterprise,
                "queuedCount": self._store.count(),
                "isRunning": self.is_running,
                "nextFlushAt": next_flush,
                "maxQueued": self.options.max_queued,
                "dropped": self.dropped,
                "outbox": self._store.location,
            }
        )

    # -- interpreter exit -----------------------------------------------------------------

    def _ensure_exit_hook(self) -> None:
        if self._exit_hook or not self.options.auto_flush or self.options.outbox:
            return  # an outbox keeps its summaries for the next start instead
        self._exit_hook = True
        atexit.register(self._flush_at_exit)

    def _flush_at_exit(self) -> None:
        if not self._exit_hook or not self._store.count() or self._exit_submit is None:
            return
        submit, close = self._exit_submit()

        async def run() -> None:
            try:
                await asyncio.wait_for(self._flush(None, submit), SHUTDOWN_FLUSH_TIMEOUT)
            finally:
                await close()

        try:
            asyncio.run(run())
        except Exception:
            log.warning(
                "summary flush at exit failed; %d summaries were not sent", self._store.count()
            )


def _failure(item: dict[str, Any], error: str) -> dict[str, Any]:
    return {
        "customerId": item["customerId"],
        "referenceId": item.get("referenceId"),
        "error": error,
    }


def _now_iso() -> str:
    return iso(datetime.now(timezone.utc))
