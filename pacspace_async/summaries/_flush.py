"""Delivering pending summaries: batches, pacing, the cadence limit, and settling.

One flush walks the store's pending summaries once, in id order, a batch of at most
``maxDeltasPerRequest`` at a time, through the batch endpoint with the official client's
metadata, paced by what the service says (:mod:`._pace`). A 429 or a ``CADENCE_LIMIT``
is waited out (up to :data:`CADENCE_RETRIES` times a batch). Only the service's answer
removes a summary: acknowledged ones leave the store; refused ones count an attempt (and
move to the dead letters at ``maxAttempts``); a request that got no answer, or an answer
that is not about the summaries (401, 5xx...), stops the flush and leaves them pending.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from functools import partial
from typing import Any, TypeVar

from anyio import sleep, to_thread

from .. import _json
from .._errors import PacSpaceError, RateLimitError, ValidationError
from .._telemetry import telemetry
from .._time import parse_iso
from ..types import BatchResult, FlushResult
from ._pace import Pacer
from ._settings import SubmissionOptions
from ._stores import Claim, Record, Store
from ._summary import iso

__all__ = ["CADENCE_RETRIES", "Flusher", "Submit", "run_io"]

log = logging.getLogger("pacspace")

CADENCE_RETRIES = 3
Submit = Callable[[list[dict[str, Any]], str], Awaitable[BatchResult]]
T = TypeVar("T")


async def run_io(store: Store, call: Callable[..., T], *args: Any) -> T:
    """Call a store method: in a worker thread when the store does I/O."""
    if store.blocking:
        return await to_thread.run_sync(partial(call, *args))
    return call(*args)


class Flusher:
    def __init__(self, options: SubmissionOptions, store: Store) -> None:
        self._options = options
        self._store = store
        self.pacer = Pacer(options.max_per_minute if options.pace_capped else None)

    async def deliver(self, submit: Submit, max_items: int | None) -> FlushResult:
        started = _now_iso()
        failures: list[dict[str, Any]] = []
        attempted = submitted = replayed = requests = dead = 0
        after = 0
        while max_items is None or attempted < max_items:
            size = self._options.max_per_request
            if max_items is not None:
                size = min(size, max_items - attempted)
            claim: Claim = await run_io(self._store, self._store.claim, size, after)
            if not claim.items:
                break
            try:
                attempted += len(claim.items)
                after = max(item.id for item in claim.items)
                outcome = await self._send_claim(submit, claim)
            except BaseException:
                # Cancelled, or a bug: the summaries stay pending for the next flush.
                claim.release()
                raise
            requests += outcome.requests
            submitted += outcome.acked
            replayed += outcome.replayed
            dead += len(outcome.dead)
            failures += outcome.failures
            if outcome.stop:
                break
        return FlushResult.model_validate(
            {
                "profile": self._options.profile,
                "startedAt": started,
                "finishedAt": _now_iso(),
                "attempted": attempted,
                "submitted": submitted,
                "accepted": submitted,
                "failed": len(failures),
                "replayed": replayed,
                "requestCount": requests,
                "queuedAfterFlush": await run_io(self._store, self._store.count),
                "deadLettered": dead,
                "failures": failures,
            }
        )

    async def _send_claim(self, submit: Submit, claim: Claim) -> _Outcome:
        items = claim.items
        payload = [item.wire(self._options.profile) for item in items]
        # The same batch sent again (after a crash, say) carries the same key.
        key = "psk_sum_" + hashlib.sha256(_json.dumps(payload).encode()).hexdigest()[:40]
        outcome = _Outcome()
        try:
            result, outcome.requests = await self._send(submit, payload, key)
        except PacSpaceError as exc:
            outcome.requests, outcome.stop = 1, True
            pairs = [(item.id, str(exc)) for item in items]
            refused = isinstance(exc, ValidationError)  # the service judged these summaries
            outcome.dead = await run_io(
                self._store, claim.settle, [], pairs if refused else [], [] if refused else pairs
            )
            outcome.failures = [_failure(item, str(exc)) for item in items]
            return outcome
        by_index = {r.index: r for r in result.results}
        acked: list[int] = []
        refusals: list[tuple[int, str]] = []
        for index, item in enumerate(items):
            answer = by_index.get(index)
            if answer is None or answer.status == "FAILED":
                error = (answer.error if answer is not None else None) or "no result for it"
                refusals.append((item.id, error))
                outcome.failures.append(_failure(item, error))
                continue
            acked.append(item.id)
            outcome.replayed += bool(answer.idempotent)
        outcome.acked = len(acked)
        outcome.dead = await run_io(self._store, claim.settle, acked, refusals, [])
        if telemetry.enabled:
            now = time.time()
            done = set(acked)
            telemetry.delivered(
                now - parse_iso(item.window_end).timestamp() for item in items if item.id in done
            )
        for id_ in outcome.dead:
            log.warning(
                "summary %d was refused %d times and moved to the dead letters "
                "(`pacspace outbox list` shows them, `pacspace outbox retry` sends them again)",
                id_,
                self._options.max_attempts,
            )
        return outcome

    async def _send(
        self, submit: Submit, payload: list[dict[str, Any]], key: str
    ) -> tuple[BatchResult, int]:
        for attempt in range(CADENCE_RETRIES + 1):
            wait = self.pacer.wait()
            if wait > 0:
                await sleep(wait)
            try:
                result = await submit(payload, key)
            except RateLimitError as exc:  # a CADENCE_LIMIT, or a 429 past the retries
                self.pacer.answered(None)
                if attempt == CADENCE_RETRIES:
                    raise
                wait = exc.retry_after if exc.retry_after is not None else 60.0
                log.info("summary delivery: %s; waiting %.1fs", exc.code, wait)
                await sleep(wait)
                continue
            raw = result.raw_response
            self.pacer.answered(raw.headers if raw is not None else None)
            return result, attempt + 1
        raise AssertionError("unreachable")


class _Outcome:
    def __init__(self) -> None:
        self.requests = self.acked = self.replayed = 0
        self.dead: list[int] = []
        self.failures: list[dict[str, Any]] = []
        self.stop = False


def _failure(item: Record, error: str) -> dict[str, Any]:
    return {"customerId": item.customer_id, "referenceId": item.reference_id, "error": error}


def _now_iso() -> str:
    return iso(datetime.now(timezone.utc))
