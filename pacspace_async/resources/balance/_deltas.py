"""Recording deltas and waiting for them: emit (one, many, a stream), emit and wait,
retry a failed one, read a status."""

from __future__ import annotations

import builtins
import contextlib
import hashlib
import time
from collections.abc import AsyncGenerator, AsyncIterable, Iterable, Mapping
from typing import Any

from typing_extensions import Unpack

from ... import _options as opt
from ... import _validate as check
from ..._errors import ValidationError
from ..._options import Amount, RequestOptions, RequestOverrides, WaitOverrides
from ..._telemetry import telemetry
from ..._time import Duration, from_ms, seconds
from ..._transport import Transport, segment
from ...limits import MAX_ID_LENGTH
from ...types import BatchResult, EmitResult, RecordStatus
from .._delta import EMIT, emit_body
from .._many import EmitItem, EmitOutcome, Progress, collect, stream
from ._base import PLAIN, Room

__all__ = ["Deltas", "submit_batch"]

DEFAULT_WAIT_TIMEOUT = 60.0
DEFAULT_POLL_INTERVAL = 2.0

_WAIT = frozenset({"timeout_ms", "poll_interval_ms"})
_EMIT_AND_WAIT = (EMIT.allowed | _WAIT) - {"timeout"}


class Deltas(Room):
    async def emit(
        self,
        customer_id: str,
        delta: Amount,
        reason: str,
        options: Mapping[str, Any] | None = None,
        *,
        reference_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        adjusts: Mapping[str, Any] | str | None = None,
        **request: Unpack[RequestOverrides],
    ) -> EmitResult:
        """Record one delta for a customer; returns at once with ``recordId`` and ``status``.

        ``delta`` is exact (int, str, Decimal, or a float read through its shortest
        repr), negative for consumption. Verification is asynchronous: use
        :meth:`emit_and_wait` or :meth:`wait_for_verified` for the outcome. A retried
        emit is never recorded twice: every attempt carries the same ``Idempotency-Key``.
        """
        if (
            options is None
            and not request
            and reference_id is None
            and metadata is None
            and adjusts is None
        ):
            merged: dict[str, Any] = {}  # the usual emit: nothing to merge (a hot path)
        else:
            merged = EMIT.merge(
                options, request, reference_id=reference_id, metadata=metadata, adjusts=adjusts
            )
        ro = RequestOptions.take(merged)
        body = emit_body(customer_id, delta, reason, merged)
        answer = await self._transport.request(
            "POST", "/api/v1/balance/delta", body=body, options=ro
        )
        result = EmitResult.from_answer(*answer)
        telemetry.emitted(result.status)
        return result

    async def emit_many(
        self,
        items: Iterable[EmitItem] | AsyncIterable[EmitItem],
        *,
        concurrency: int = 32,
        return_exceptions: bool = True,
        progress: Progress | None = None,
    ) -> builtins.list[EmitOutcome]:
        """Emit many deltas concurrently; results (or errors) in input order.

        ``items`` are dicts in the documented shape (``customerId``, ``delta``, ``reason``,
        ``referenceId``, ``metadata``) or the same in snake_case. At most ``concurrency``
        requests are in flight; a failing item never cancels the others. For inputs too
        large to hold a list of results, iterate :meth:`emit_stream` instead.
        ``progress(index, outcome)`` is called once per item, in input order.
        """
        return await collect(
            self.emit,
            items,
            concurrency=concurrency,
            return_exceptions=return_exceptions,
            progress=progress,
        )

    async def emit_stream(
        self,
        items: Iterable[EmitItem] | AsyncIterable[EmitItem],
        *,
        concurrency: int = 32,
        return_exceptions: bool = True,
        progress: Progress | None = None,
    ) -> AsyncGenerator[EmitOutcome, None]:
        """:meth:`emit_many` as a stream: items are pulled lazily and results yielded in
        input order, so memory stays flat however many items flow through. Closing it
        early stops its requests in flight before the close returns."""
        results = stream(
            self.emit,
            items,
            concurrency=concurrency,
            return_exceptions=return_exceptions,
            progress=progress,
        )
        async with contextlib.aclosing(results):  # closed with this one, not when collected
            async for result in results:
                yield result

    async def emit_and_wait(
        self,
        customer_id: str,
        delta: Amount,
        reason: str,
        options: Mapping[str, Any] | None = None,
        *,
        reference_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        adjusts: Mapping[str, Any] | str | None = None,
        timeout: Duration | None = None,
        poll_interval: Duration | None = None,
        **request: Unpack[WaitOverrides],
    ) -> RecordStatus:
        """Emit, then wait until the delta is ``VERIFIED`` or ``FAILED``.

        ``timeout`` (default 60 s) and ``poll_interval`` (the longest gap between checks,
        default 2 s) are seconds here and milliseconds in the options dict, as in the
        product's documentation. Raises :class:`~pacspace_async.TimeoutError` at the deadline.
        """
        # ``timeout`` is the wait's, not the emit request's: it is not among the emit's.
        given = {"reference_id": reference_id, "metadata": metadata, "adjusts": adjusts}
        merged = opt.merge(options, _EMIT_AND_WAIT, {**given, **request}, EMIT.seed_names)
        wait_timeout, interval = _wait_settings(merged, timeout, poll_interval)
        ro = RequestOptions.take(merged, wait=True)
        body = emit_body(customer_id, delta, reason, merged)
        answer = await self._transport.request(
            "POST", "/api/v1/balance/delta", body=body, options=ro
        )
        first = RecordStatus.from_answer(*answer)
        if first.is_terminal or not first.record_id:
            return first
        return await self._waiter.wait(
            # The clock starts when the answer arrives: under load an emit may queue long
            # before the server records it, and verification time counts from then.
            first.record_id,
            timeout=wait_timeout,
            poll_interval=interval,
            started=time.monotonic(),
        )

    async def retry_failed(
        self,
        record: RecordStatus | EmitResult | str,
        *,
        metadata: Mapping[str, Any] | None = None,
        **request: Unpack[RequestOverrides],
    ) -> EmitResult:
        """Emit a ``FAILED`` delta again, as a new record.

        Emitting with the same ``referenceId`` returns the same FAILED record (that is what
        makes emits safe to repeat), so a retry needs a new one: it is derived from the
        failed record's id (``{referenceId}:retry:{recordId}``), so calling this twice for
        the same failure still records one delta. Same customer, amount and reason; the
        metadata carries ``retryOf``. ``record`` is a status or emit answer, or a record id
        (then its status is fetched). Anything but ``FAILED`` is a ValidationError.
        """
        if isinstance(record, str):
            record = await self.delta_status(record, **request)
        if record.status != "FAILED":
            raise ValidationError(
                f"only a FAILED delta can be retried; {record.record_id} is {record.status}",
                field="record",
            )
        if record.customer_id is None or record.delta is None or record.reason is None:
            record = await self.delta_status(record.record_id, **request)
        if record.customer_id is None or record.delta is None or record.reason is None:
            raise ValidationError(
                f"the status of {record.record_id} does not say its customer, amount and reason",
                field="record",
            )
        return await self.emit(
            record.customer_id,
            record.delta,
            record.reason,
            reference_id=_retry_reference(record.reference_id, record.record_id),
            metadata={**(metadata or {}), "retryOf": record.record_id},
            **request,
        )

    async def delta_status(
        self,
        record_id: str,
        options: Mapping[str, Any] | None = None,
        **request: Unpack[RequestOverrides],
    ) -> RecordStatus:
        """The current status of one recorded delta."""
        ro = RequestOptions.take(PLAIN.merge(options, request))
        path = f"/api/v1/balance/delta/{segment(check.text(record_id, 'recordId'))}"
        return RecordStatus.from_answer(*await self._transport.request("GET", path, options=ro))

    async def get_record_status(
        self,
        record_id: str,
        options: Mapping[str, Any] | None = None,
        **request: Unpack[RequestOverrides],
    ) -> RecordStatus:
        """Alias of :meth:`delta_status`, the official client's other name for it."""
        return await self.delta_status(record_id, options, **request)

    async def wait_for_verified(
        self,
        record_id: str,
        options: Mapping[str, Any] | None = None,
        *,
        timeout: Duration | None = None,
        poll_interval: Duration | None = None,
    ) -> RecordStatus:
        """Wait until a recorded delta is ``VERIFIED`` or ``FAILED``.

        All waits of a client share one watcher that spaces status checks around the
        observed verification time; a verified webhook delivery ends the wait at once.
        """
        merged = opt.merge(options, _WAIT, {})
        wait_timeout, interval = _wait_settings(merged, timeout, poll_interval)
        return await self._waiter.wait(
            check.text(record_id, "recordId"), timeout=wait_timeout, poll_interval=interval
        )


async def submit_batch(
    transport: Transport, deltas: builtins.list[dict[str, Any]], key: str
) -> BatchResult:
    """One ``POST /delta/batch`` under ``key``: how the summary queue sends."""
    answer = await transport.request(
        "POST",
        "/api/v1/balance/delta/batch",
        body={"deltas": deltas},
        options=RequestOptions(idempotency_key=key),
    )
    return BatchResult.from_answer(*answer)


def _retry_reference(reference_id: str | None, record_id: str) -> str:
    """``{referenceId}:retry:{recordId}``, or, where that is longer than an id may be, a
    digest of the same two (still the same id for the same failure)."""
    readable = f"{reference_id or 'delta'}:retry:{record_id}"
    if len(readable) <= MAX_ID_LENGTH:
        return readable
    digest = hashlib.sha256(f"{reference_id}\0{record_id}".encode()).hexdigest()
    return f"retry_{digest[:48]}"


def _wait_settings(
    merged: dict[str, Any], timeout: Duration | None, poll_interval: Duration | None
) -> tuple[float, float]:
    """Keyword durations are seconds (or a ``timedelta``); the options dict's are ms."""
    ms_timeout = merged.pop("timeout_ms", None)
    ms_interval = merged.pop("poll_interval_ms", None)
    if timeout is None:
        timeout = DEFAULT_WAIT_TIMEOUT if ms_timeout is None else from_ms(ms_timeout, "timeout")
    if poll_interval is None:
        poll_interval = (
            DEFAULT_POLL_INTERVAL if ms_interval is None else from_ms(ms_interval, "pollInterval")
        )
    return seconds(timeout, "timeout"), seconds(poll_interval, "poll_interval")
