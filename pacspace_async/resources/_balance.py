"""``pac.balance``: record, wait, derive, compare, checkpoint, and read back.

Each method takes the documented positional arguments and options dict, or the same settings
as keyword arguments; validates everything before sending; makes one request through the
transport; and returns a model. Retries, pauses and HTTP details live in the transport,
waiting in the waiter.
"""

from __future__ import annotations

import builtins
import contextlib
import hashlib
import time
from collections.abc import AsyncGenerator, AsyncIterable, Iterable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from typing_extensions import Unpack

from .. import _options as opt
from .. import _params as spec
from .. import _validate as check
from .._errors import ValidationError
from .._options import Amount, RequestOptions, RequestOverrides, WaitOverrides
from .._scope import SCOPE_KEYS
from .._telemetry import telemetry
from .._time import Duration, from_ms, iso_z, seconds
from .._transport import Transport, query, segment
from .._waiter import Waiter
from ..limits import MAX_ID_LENGTH
from ..summaries import Meter, SummaryQueue
from ..types import (
    BatchResult,
    Checkpoint,
    CheckpointList,
    CompareReport,
    Customer,
    CustomerList,
    CustomerSummary,
    DeadLetter,
    DerivedBalance,
    EmitResult,
    FlushResult,
    Gaps,
    QueuedSummary,
    QueueState,
    Receipt,
    RecordStatus,
    Usage,
    WebhookDelivery,
    WebhookDeliveryList,
    WebhookRetry,
)
from ._delta import EMIT, emit_body
from ._many import EmitItem, EmitOutcome, Progress, collect, stream
from ._pages import DEFAULT_PAGE_SIZE, by_offset, by_page
from ._receipts import Receipts

__all__ = ["Balance", "emit_body", "submit_batch"]

DEFAULT_WAIT_TIMEOUT = 60.0
DEFAULT_POLL_INTERVAL = 2.0

_WAIT = frozenset({"timeout_ms", "poll_interval_ms"})
_EMIT_AND_WAIT = (EMIT.allowed | _WAIT) - {"timeout"}
# Each call's parameters, in the order the wire lists them.
_DERIVE = spec.Call(
    spec.amount("starting_balance", "startingBalance"),
    spec.STARTING_CHECKPOINT,
    spec.STARTING_CHECKPOINT_TYPE,
    spec.count("limit", "limit"),
    spec.index("offset", "offset"),
    *spec.TIME_SCOPE,
)
_COMPARE = spec.Call(
    spec.amount("starting_balance", "startingBalance"),
    *spec.TIME_SCOPE,
    spec.STARTING_CHECKPOINT,
    spec.STARTING_CHECKPOINT_TYPE,
)
_CHECKPOINT = spec.Call(
    *spec.TIME_SCOPE,
    spec.text("mode", "mode"),
    spec.Param("fingerprints", "fingerprints", check.string_list),
)
_LIST_CHECKPOINTS = spec.Call(
    spec.Param("customer_id", "customerId", check.identifier),
    *spec.TIME_SCOPE,
    spec.count("limit", "limit"),
    spec.index("offset", "offset"),
)
_RECEIPT = spec.Call(*spec.TIME_SCOPE)
_CUSTOMERS = spec.Call(
    spec.Param("search", "search", check.text),
    spec.count("limit", "limit"),
    spec.count("page", "page"),
)
_CUSTOMER = spec.Call(
    spec.count("delta_page", "deltaPage"),
    spec.count("delta_limit", "deltaLimit"),
    spec.Param("period", "period", check.period),
)
_GAPS = spec.Call(
    spec.index("from_sequence", "fromSequence"),
    spec.index("to_sequence", "toSequence"),
    spec.count("limit", "limit"),
)
_DELIVERIES = spec.Call(
    spec.text("status", "status"),
    spec.count("limit", "limit"),
    spec.index("offset", "offset"),
)
_PLAIN = spec.Call()


class Balance:
    """The Balance API. Reached as ``pac.balance``."""

    receipts: Receipts

    def __init__(self, transport: Transport, waiter: Waiter, summaries: SummaryQueue) -> None:
        self._transport = transport
        self._waiter = waiter
        self._summaries = summaries
        self.receipts = Receipts(transport)

    # -- summaries ----------------------------------------------------------------------

    def queue_summary(self, summary: Mapping[str, Any]) -> QueuedSummary:
        """Queue one usage summary for the next flush (no I/O but an outbox commit).

        ``summary`` is the documented dict: ``customerId``, ``delta``, optional ``reason``,
        ``referenceId``, ``metadata``, ``windowStart``/``windowEnd``. Without a window it
        covers the current UTC window of the profile's cadence (the UTC day for
        ``daily``). A later summary for the same customer, reason and window replaces it
        while it is unsent; its ``referenceId`` names the aggregate, not its amount.
        """
        return self._summaries.queue(summary)

    def queue_summaries(
        self, summaries: Iterable[Mapping[str, Any]]
    ) -> builtins.list[QueuedSummary]:
        """Queue several summaries; see :meth:`queue_summary`."""
        return [self._summaries.queue(summary) for summary in summaries]

    async def flush_summaries(
        self,
        options: Mapping[str, Any] | None = None,
        *,
        max_items: int | None = None,
    ) -> FlushResult:
        """Send queued summaries now, in batches, paced; returns ``accepted``/``failed`` and more.

        Summaries the server refuses stay queued with their reason for the next flush.
        """
        merged = opt.merge(options, frozenset({"max_items"}), {"max_items": max_items})
        limit = merged.get("max_items")
        return await self._summaries.flush(
            None if limit is None else check.non_negative_int(limit, "maxItems")
        )

    def get_summary_queue_state(self) -> QueueState:
        """Profile, cadence, how many summaries wait, and whether the scheduler runs."""
        return self._summaries.state()

    def start_summary_scheduler(self) -> None:
        """Flush on the profile's cadence from a task on the client's event loop."""
        self._summaries.start()

    def stop_summary_scheduler(self) -> None:
        """Stop scheduled flushes (queued summaries stay queued)."""
        self._summaries.stop()

    async def shutdown_summary_scheduler(self) -> FlushResult | None:
        """Stop the scheduler and flush what is queued, bounded in time."""
        return await self._summaries.shutdown()

    async def list_dead_letters(self, limit: int = 100) -> builtins.list[DeadLetter]:
        """Summaries moved aside: unreadable, or refused by the service ``maxAttempts`` times."""
        return await self._summaries.dead_letters(check.positive_int(limit, "limit"))

    async def retry_dead_letters(self, ids: Iterable[int] | None = None) -> int:
        """Move dead letters (all, or those ``ids``) back to the queue; returns how many."""
        return await self._summaries.retry_dead(
            None if ids is None else [check.positive_int(i, "ids") for i in ids]
        )

    def meter(self, window: str = "1d", reason: str = "usage") -> Meter:
        """An in-process meter: ``meter.add(customer_id, amount)`` sums per customer,
        reason and UTC window with no I/O. The client's scheduler (started here) journals
        it every tick and sends each window once it has ended; closing the client sends
        the open window's partial too. With a PostgreSQL outbox,
        ``meter.record(connection, ...)`` writes usage in your own transaction."""
        return self._summaries.meter(window, reason)

    # -- recording ----------------------------------------------------------------

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
            merged = EMIT.merge(options, locals())
        ro = RequestOptions.take(merged)
        body = emit_body(customer_id, delta, reason, merged)
        data = await self._transport.request("POST", "/api/v1/balance/delta", body=body, options=ro)
        result = EmitResult.from_answer(data)
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
        merged = opt.merge(options, _EMIT_AND_WAIT, _given(locals()), EMIT.seed_names)
        wait_timeout, interval = _wait_settings(merged, timeout, poll_interval)
        ro = RequestOptions.take(merged, wait=True)
        body = emit_body(customer_id, delta, reason, merged)
        data = await self._transport.request("POST", "/api/v1/balance/delta", body=body, options=ro)
        first = RecordStatus.from_answer(data)
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
        ro = RequestOptions.take(_PLAIN.merge(options, locals()))
        path = f"/api/v1/balance/delta/{segment(check.text(record_id, 'recordId'))}"
        return RecordStatus.from_answer(await self._transport.request("GET", path, options=ro))

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

    # -- deriving -------------------------------------------------------------------

    async def derive(
        self,
        customer_id: str,
        options: Mapping[str, Any] | None = None,
        *,
        period: str | None = None,
        time_preset: str | None = None,
        start_date: str | datetime | None = None,
        end_date: str | datetime | None = None,
        starting_balance: Amount | None = None,
        starting_checkpoint: str | None = None,
        starting_checkpoint_type: str | None = None,
        limit: int | None = None,
        offset: int | None = None,
        **request: Unpack[RequestOverrides],
    ) -> DerivedBalance:
        """The balance derived from verified deltas in scope (default: the current UTC month)."""
        merged = _DERIVE.merge(options, locals())
        ro = RequestOptions.take(merged)
        params = _DERIVE.wire(merged)
        path = f"/api/v1/balance/derive/{segment(check.identifier(customer_id, 'customerId'))}{query(params)}"
        return DerivedBalance.from_answer(await self._transport.request("GET", path, options=ro))

    async def derive_current_month(
        self,
        customer_id: str,
        options: Mapping[str, Any] | None = None,
        **request: Unpack[RequestOverrides],
    ) -> DerivedBalance:
        """Derive over the current UTC month (``timePreset=current_month``)."""
        return await self.derive(
            customer_id, {**(options or {}), "timePreset": "current_month"}, **request
        )

    async def derive_for_period(
        self,
        customer_id: str,
        period: str,
        options: Mapping[str, Any] | None = None,
        **request: Unpack[RequestOverrides],
    ) -> DerivedBalance:
        """Derive over one calendar month, ``YYYY-MM``."""
        return await self.derive(
            customer_id, {**(options or {}), "period": check.period(period)}, **request
        )

    async def derive_months_back(
        self,
        customer_id: str,
        months: int,
        options: Mapping[str, Any] | None = None,
        **request: Unpack[RequestOverrides],
    ) -> DerivedBalance:
        """Derive over the last ``months`` calendar months, the current one included."""
        check.positive_int(months, "months")
        now = datetime.now(timezone.utc)
        end = datetime(now.year + (now.month == 12), now.month % 12 + 1, 1, tzinfo=timezone.utc)
        index = now.year * 12 + (now.month - 1) - (months - 1)
        start = datetime(index // 12, index % 12 + 1, 1, tzinfo=timezone.utc)
        return await self.derive(customer_id, _custom(options, start, end), **request)

    async def derive_days_back(
        self,
        customer_id: str,
        days: int,
        options: Mapping[str, Any] | None = None,
        **request: Unpack[RequestOverrides],
    ) -> DerivedBalance:
        """Derive over the last ``days`` UTC days, today included (``days=1`` is today)."""
        check.positive_int(days, "days")
        today = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
        start = today - timedelta(days=days - 1)
        return await self.derive(
            customer_id, _custom(options, start, today + timedelta(days=1)), **request
        )

    async def compare(
        self,
        customer_id: str,
        balances: Mapping[str, Amount] | None = None,
        options: Mapping[str, Any] | None = None,
        *,
        yours: Amount | None = None,
        theirs: Amount | None = None,
        period: str | None = None,
        time_preset: str | None = None,
        start_date: str | datetime | None = None,
        end_date: str | datetime | None = None,
        starting_balance: Amount | None = None,
        starting_checkpoint: str | None = None,
        starting_checkpoint_type: str | None = None,
        **request: Unpack[RequestOverrides],
    ) -> CompareReport:
        """Compare your balance and theirs with the neutral balance PacSpace derives.

        ``balances`` is the documented ``{"yours": ..., "theirs": ...}``; ``yours=``/``theirs=``
        say the same. The report says which view matches and, when one does not, by how
        much and in which windows the neutral record moved.
        """
        given = dict(balances or {})
        unknown = set(given) - {"yours", "theirs"}
        if unknown:
            raise ValidationError(f"unknown balance {sorted(unknown)[0]!r}", field="balances")
        your = yours if yours is not None else given.get("yours")
        their = theirs if theirs is not None else given.get("theirs")
        if your is None or their is None:
            raise ValidationError(
                "compare needs both balances: yours and theirs",
                field="yours" if your is None else "theirs",
            )
        merged = _COMPARE.merge(options, locals())
        ro = RequestOptions.take(merged)
        wire = _COMPARE.wire(merged)
        body: dict[str, Any] = {
            "customerId": check.identifier(customer_id, "customerId"),
            "yourBalance": check.amount(your, "yours"),
            "theirBalance": check.amount(their, "theirs"),
            "startingBalance": wire.pop("startingBalance", 0),
            **wire,
        }
        data = await self._transport.request(
            "POST", "/api/v1/balance/compare", body=body, options=ro
        )
        return CompareReport.from_answer(data)

    # -- checkpoints and receipts -------------------------------------------------

    async def checkpoint(
        self,
        customer_id: str | None = None,
        options: Mapping[str, Any] | None = None,
        *,
        period: str | None = None,
        time_preset: str | None = None,
        start_date: str | datetime | None = None,
        end_date: str | datetime | None = None,
        mode: str | None = None,
        fingerprints: builtins.list[str] | None = None,
        **request: Unpack[RequestOverrides],
    ) -> Checkpoint:
        """Lock a scope's verified deltas under one proof root for an invoice."""
        merged = _CHECKPOINT.merge(options, locals())
        ro = RequestOptions.take(merged)
        body: dict[str, Any] = {}
        if customer_id is not None:
            body["customerId"] = check.identifier(customer_id, "customerId")
        body.update(_CHECKPOINT.wire(merged))
        data = await self._transport.request(
            "POST", "/api/v1/balance/checkpoint", body=body, options=ro
        )
        return Checkpoint.from_answer(data)

    async def list_checkpoints(
        self,
        options: Mapping[str, Any] | None = None,
        *,
        customer_id: str | None = None,
        period: str | None = None,
        time_preset: str | None = None,
        start_date: str | datetime | None = None,
        end_date: str | datetime | None = None,
        limit: int | None = None,
        offset: int | None = None,
        **request: Unpack[RequestOverrides],
    ) -> CheckpointList:
        """Checkpoints, newest first, optionally for one customer and scope."""
        merged = _LIST_CHECKPOINTS.merge(options, locals())
        ro = RequestOptions.take(merged)
        params = _LIST_CHECKPOINTS.wire(merged)
        data = await self._transport.request(
            "GET", f"/api/v1/balance/checkpoints{query(params)}", options=ro
        )
        return CheckpointList.from_answer(data)

    async def iter_checkpoints(
        self,
        *,
        customer_id: str | None = None,
        period: str | None = None,
        time_preset: str | None = None,
        start_date: str | datetime | None = None,
        end_date: str | datetime | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        **request: Unpack[RequestOverrides],
    ) -> AsyncGenerator[Checkpoint, None]:
        """Every checkpoint of :meth:`list_checkpoints`, newest first, a page per request."""

        async def fetch(limit: int, offset: int) -> tuple[builtins.list[Checkpoint], int | None]:
            page = await self.list_checkpoints(
                customer_id=customer_id,
                period=period,
                time_preset=time_preset,
                start_date=start_date,
                end_date=end_date,
                limit=limit,
                offset=offset,
                **request,
            )
            return page.checkpoints, page.total

        async for checkpoint in by_offset(fetch, page_size):
            yield checkpoint

    async def receipt(
        self,
        customer_id: str,
        options: Mapping[str, Any] | None = None,
        *,
        period: str | None = None,
        time_preset: str | None = None,
        start_date: str | datetime | None = None,
        end_date: str | datetime | None = None,
        **request: Unpack[RequestOverrides],
    ) -> Receipt:
        """A customer's receipt data; with a scope, the invoice proof for that scope."""
        merged = _RECEIPT.merge(options, locals())
        if merged.keys() & SCOPE_KEYS:
            return await self._invoice_proof(customer_id, merged)
        ro = RequestOptions.take(merged)
        path = f"/api/v1/balance/receipt/{segment(check.identifier(customer_id, 'customerId'))}"
        return Receipt.from_answer(await self._transport.request("GET", path, options=ro))

    async def invoice_proof(
        self,
        customer_id: str,
        options: Mapping[str, Any] | None = None,
        *,
        period: str | None = None,
        time_preset: str | None = None,
        start_date: str | datetime | None = None,
        end_date: str | datetime | None = None,
        **request: Unpack[RequestOverrides],
    ) -> Receipt:
        """The proof of one scope (default: the current month) to attach to an invoice."""
        merged = _RECEIPT.merge(options, locals())
        return await self._invoice_proof(customer_id, merged)

    async def _invoice_proof(self, customer_id: str, merged: dict[str, Any]) -> Receipt:
        ro = RequestOptions.take(merged)
        path = (
            f"/api/v1/balance/invoice-proof/{segment(check.identifier(customer_id, 'customerId'))}"
            + query(_RECEIPT.wire(merged))
        )
        return Receipt.from_answer(await self._transport.request("GET", path, options=ro))

    # -- customers, usage, gaps, deliveries ------------------------------------------

    async def customers(
        self,
        options: Mapping[str, Any] | None = None,
        *,
        search: str | None = None,
        limit: int | None = None,
        page: int | None = None,
        **request: Unpack[RequestOverrides],
    ) -> CustomerList:
        """Customers, optionally filtered by a search string; ``page`` starts at 1."""
        merged = _CUSTOMERS.merge(options, locals())
        ro = RequestOptions.take(merged)
        params = _CUSTOMERS.wire(merged)
        data = await self._transport.request(
            "GET", f"/api/v1/balance/customers{query(params)}", options=ro
        )
        return CustomerList.from_answer(data)

    async def iter_customers(
        self,
        *,
        search: str | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        **request: Unpack[RequestOverrides],
    ) -> AsyncGenerator[CustomerSummary, None]:
        """Every customer of :meth:`customers`, a page per request."""

        async def fetch(limit: int, page: int) -> tuple[builtins.list[CustomerSummary], int | None]:
            answer = await self.customers(search=search, limit=limit, page=page, **request)
            pages = answer.pagination.total_pages if answer.pagination is not None else None
            return answer.customers, pages

        async for customer in by_page(fetch, page_size):
            yield customer

    async def customer(
        self,
        customer_id: str,
        options: Mapping[str, Any] | None = None,
        *,
        period: str | None = None,
        delta_page: int | None = None,
        delta_limit: int | None = None,
        **request: Unpack[RequestOverrides],
    ) -> Customer:
        """One customer: derived balance, delta count and recent activity."""
        merged = _CUSTOMER.merge(options, locals())
        ro = RequestOptions.take(merged)
        params = _CUSTOMER.wire(merged)
        customer = segment(check.identifier(customer_id, "customerId"))
        path = f"/api/v1/balance/customers/{customer}{query(params)}"
        return Customer.from_answer(await self._transport.request("GET", path, options=ro))

    async def usage(
        self,
        options: Mapping[str, Any] | None = None,
        **request: Unpack[RequestOverrides],
    ) -> Usage:
        """This month's plan usage: ``used``, ``limit``, ``remaining``, ``allowed``."""
        ro = RequestOptions.take(_PLAIN.merge(options, locals()))
        return Usage.from_answer(
            await self._transport.request("GET", "/api/v1/balance/usage", options=ro)
        )

    async def gaps(
        self,
        customer_id: str,
        options: Mapping[str, Any] | None = None,
        *,
        from_sequence: int | None = None,
        to_sequence: int | None = None,
        limit: int | None = None,
        **request: Unpack[RequestOverrides],
    ) -> Gaps:
        """Holes in a customer's sequence of verified deltas."""
        merged = _GAPS.merge(options, locals())
        ro = RequestOptions.take(merged)
        params = _GAPS.wire(merged)
        path = f"/api/v1/balance/gaps/{segment(check.identifier(customer_id, 'customerId'))}{query(params)}"
        return Gaps.from_answer(await self._transport.request("GET", path, options=ro))

    async def list_webhook_deliveries(
        self,
        options: Mapping[str, Any] | None = None,
        *,
        status: str | None = None,
        limit: int | None = None,
        offset: int | None = None,
        **request: Unpack[RequestOverrides],
    ) -> WebhookDeliveryList:
        """Webhook deliveries, optionally by status (``delivered``, ``failed``, ``pending``)."""
        merged = _DELIVERIES.merge(options, locals())
        ro = RequestOptions.take(merged)
        params = _DELIVERIES.wire(merged)
        data = await self._transport.request(
            "GET", f"/api/v1/balance/webhooks{query(params)}", options=ro
        )
        return WebhookDeliveryList.from_answer(data)

    async def iter_webhook_deliveries(
        self,
        *,
        status: str | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        **request: Unpack[RequestOverrides],
    ) -> AsyncGenerator[WebhookDelivery, None]:
        """Every delivery of :meth:`list_webhook_deliveries`, a page per request."""

        async def fetch(
            limit: int, offset: int
        ) -> tuple[builtins.list[WebhookDelivery], int | None]:
            page = await self.list_webhook_deliveries(
                status=status, limit=limit, offset=offset, **request
            )
            return page.deliveries, page.total

        async for delivery in by_offset(fetch, page_size):
            yield delivery

    async def retry_webhook(
        self,
        event_id: str,
        options: Mapping[str, Any] | None = None,
        **request: Unpack[RequestOverrides],
    ) -> WebhookRetry:
        """Deliver one webhook event again; ``status`` is upper-cased like every status."""
        ro = RequestOptions.take(_PLAIN.merge(options, locals()))
        path = f"/api/v1/balance/webhooks/{segment(check.text(event_id, 'eventId'))}/retry"
        return WebhookRetry.from_answer(
            await self._transport.request("POST", path, body={}, options=ro)
        )


async def submit_batch(
    transport: Transport, deltas: builtins.list[dict[str, Any]], key: str
) -> BatchResult:
    data = await transport.request(
        "POST",
        "/api/v1/balance/delta/batch",
        body={"deltas": deltas},
        options=RequestOptions(idempotency_key=key),
    )
    return BatchResult.from_answer(data)


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


def _given(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """``emit_and_wait``'s emit arguments (its ``timeout`` is the wait's, not a request's)."""
    return {name: arguments[name] for name in ("reference_id", "metadata", "adjusts")} | dict(
        arguments["request"]
    )


def _custom(options: Mapping[str, Any] | None, start: datetime, end: datetime) -> dict[str, Any]:
    return {
        **(options or {}),
        "timePreset": "custom",
        "startDate": iso_z(start),
        "endDate": iso_z(end),
    }
