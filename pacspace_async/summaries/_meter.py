"""In-process metering: sum usage per customer, reason and window; no I/O on ``add``.

``meter.add(customer_id, amount)`` is a dict update under a lock: it runs in the caller's
thread (in ``pacspace_sync`` too), sums exactly (``Decimal``; ten adds of ``0.1`` are
exactly ``1``) and never touches the network or the disk. Windows are aligned to UTC
(``"1d"`` is the UTC day).

The client's scheduler takes what was added every tick (``journalIntervalMs``, 1 s by
default) and journals it to the store: to disk with an outbox, so a SIGKILL loses at most
one tick. Windows that have ended are sealed into summaries, one per customer, reason
and window; a close seals the open window's partial as a slice of its own. A forked
child's meter starts empty: the parent sends what it counted.

``meter.record(tx, customer_id, amount)`` (a PostgreSQL outbox only) writes the usage in
the caller's own open transaction instead: it is sent only if that transaction commits.
``tx`` is what holds it (psycopg, asyncpg, SQLAlchemy, Django: :mod:`._record`); awaited
for an async one, blocking for the others.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Protocol, overload

from .. import _validate as check
from .._errors import PacSpaceError, ValidationError
from ._identity import after_fork
from ._record import Statement, execute
from ._stores import Record
from ._summary import iso


class AsyncTransaction(Protocol):
    """What an async caller records in: its ``execute`` is awaited (a psycopg
    ``AsyncConnection``, an asyncpg ``Connection``, a SQLAlchemy ``AsyncSession`` or
    ``AsyncConnection``)."""

    def execute(self, *args: Any, **kwargs: Any) -> Awaitable[Any]: ...


__all__ = ["Meter", "parse_window"]

_WINDOW = re.compile(r"^(\d+)([smhd])$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_CHECKED_MAX = 65_536
"""Ids and reasons a meter remembers as checked (then it starts again, checking anew)."""


def parse_window(window: str) -> int:
    match = _WINDOW.match(window) if isinstance(window, str) else None
    if not match or int(match.group(1)) < 1:
        raise ValidationError(
            f"window must look like 30s, 15m, 1h or 1d, not {window!r}", field="window"
        )
    seconds = int(match.group(1)) * _UNIT[match.group(2)]
    if 86400 % seconds and seconds % 86400:
        raise ValidationError("window must divide a day evenly (or be whole days)", field="window")
    return seconds


class _Sink(Protocol):
    """What a meter reports to (the summary queue)."""

    @property
    def location(self) -> str | None: ...

    def meter_forked(self) -> None: ...
    def record_statement(self, row: Record) -> tuple[str, tuple[Any, ...]]: ...
    async def ready_for_record(self) -> None: ...
    def ready_for_record_blocking(self) -> None: ...


class Meter:
    """Aggregates usage in memory; the client's scheduler journals and seals it."""

    def __init__(
        self,
        sink: _Sink | None,
        *,
        window: str = "1d",
        reason: str = "usage",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._size = parse_window(window)
        self._reason = check.label(reason, "reason")
        self._checked: set[str] = set()
        self._sink = sink
        self._clock = clock
        self._lock = threading.Lock()
        self._totals: dict[tuple[int, str, str], int | Decimal] = {}
        self._index, self._opened, self._closes = 0, 0.0, 0.0
        self._forked = False
        self.window = window
        after_fork(self)

    def __repr__(self) -> str:
        return f"Meter(window={self.window!r}, reason={self._reason!r}, open={len(self._totals)})"

    @property
    def window_seconds(self) -> int:
        return self._size

    def add(
        self, customer_id: str, amount: int | float | str | Decimal, reason: str | None = None
    ) -> None:
        """Add ``amount`` (negative for consumption, as with emit) to the open window."""
        # The hot path: a type check, a clock read and a locked dict update. Ints are
        # summed as ints (int + Decimal is exact); anything else becomes a Decimal first.
        kind = type(amount)
        value: int | Decimal = (
            amount  # type: ignore[assignment]
            if kind is int or (kind is Decimal and amount.is_finite())  # type: ignore[union-attr]
            else _amount(amount)
        )
        # Ids and reasons are checked once each (a set lookup after that): what the
        # service or a store would refuse never enters the meter, so it never costs the
        # usage journaled beside it.
        checked = self._checked
        if type(customer_id) is not str or customer_id not in checked:
            self._check(customer_id, "customerId")
        if reason is None:
            reason = self._reason
        elif type(reason) is not str or reason not in checked:
            self._check(reason, "reason")
        now = self._clock()
        if not self._opened <= now < self._closes:
            self._roll(now)
        key = (self._index, customer_id, reason)
        totals = self._totals
        with self._lock:
            totals[key] = totals.get(key, 0) + value

    def _check(self, value: Any, field: str) -> None:
        """Refuse an id (``customerId``) or a ``reason`` the service would refuse, naming
        the field; remember the good ones (a bounded set)."""
        rule = check.identifier if field == "customerId" else check.label
        try:
            rule(value, field)
        except ValidationError as exc:
            raise ValidationError(exc.message, 0, "INVALID_SUMMARY", field=field) from None
        if len(self._checked) >= _CHECKED_MAX:
            self._checked = set()
        self._checked.add(value)

    def _roll(self, now: float) -> None:
        """The clock left the cached window (or the process forked): find where it is now."""
        if self._forked:
            self._forked = False
            if self._sink is not None:
                self._sink.meter_forked()
        index = int(now // self._size)
        self._index, self._opened, self._closes = (
            index,
            index * self._size,
            (index + 1) * self._size,
        )

    def _after_fork_in_child(self) -> None:
        # What the parent counted is the parent's to send; the cached window is cleared so
        # that the next add passes through _roll, which tells the sink.
        self._lock = threading.Lock()
        self._totals = {}
        self._closes = 0.0
        self._forked = True

    # -- what the scheduler uses ----------------------------------------------------------

    def snapshot(self) -> list[dict[str, Any]]:
        """What was added since the last tick: ``customerId``, ``delta``, ``reason``,
        ``windowStart``, ``windowEnd``."""
        with self._lock:
            items = list(self._totals.items())
        return [
            {
                "customerId": usage.customer_id,
                "delta": usage.delta,
                "reason": usage.reason,
                "windowStart": usage.window_start,
                "windowEnd": usage.window_end,
            }
            for usage in (self._usage(key, Decimal(total)) for key, total in items)
        ]

    def take(self) -> list[Record]:
        """Everything added since the last call, as usage rows (zero totals left out)."""
        with self._lock:
            totals, self._totals = self._totals, {}
        return [self._usage(key, Decimal(total)) for key, total in totals.items() if total != 0]

    def pending(self) -> list[Record]:
        """What was added and not taken yet (a close reports it when a store failed)."""
        with self._lock:
            items = list(self._totals.items())
        return [self._usage(key, Decimal(total)) for key, total in items if total != 0]

    def give_back(self, rows: list[Record]) -> None:
        """Rows :meth:`take` handed out that could not be stored: count them again."""
        with self._lock:
            for row in rows:
                key = (int(row.window_end_at // self._size) - 1, row.customer_id, row.reason)
                self._totals[key] = self._totals.get(key, 0) + row.delta

    def _usage(self, key: tuple[int, str, str], total: Decimal) -> Record:
        index, customer, reason = key
        start = datetime.fromtimestamp(index * self._size, timezone.utc)
        end = datetime.fromtimestamp((index + 1) * self._size, timezone.utc)
        return Record(customer, reason, iso(start), iso(end), end.timestamp(), total)

    # -- recording in the caller's transaction ------------------------------------------

    @overload
    def record(
        self,
        connection: AsyncTransaction,
        customer_id: str,
        amount: int | float | str | Decimal,
        reason: str | None = None,
    ) -> Awaitable[None]: ...

    @overload
    def record(
        self,
        connection: Any,
        customer_id: str,
        amount: int | float | str | Decimal,
        reason: str | None = None,
    ) -> None: ...

    def record(
        self,
        connection: Any,
        customer_id: str,
        amount: int | float | str | Decimal,
        reason: str | None = None,
    ) -> Awaitable[None] | None:
        """Write usage in the caller's open transaction (a PostgreSQL outbox only).

        ``connection`` is what holds the transaction: a psycopg ``Connection`` or
        ``AsyncConnection``; an asyncpg ``Connection``; a SQLAlchemy ``Session``,
        ``AsyncSession``, ``Connection`` or ``AsyncConnection`` on PostgreSQL (its current
        transaction); or Django's ``connection`` inside ``transaction.atomic()``. Await it
        for the async ones; it blocks for the others. The row is one insert (never an
        update of a shared row) and is sent only if the caller's transaction commits.
        """
        sink = self._sink
        if sink is None:
            raise PacSpaceError("This meter is not attached to a client.", 0, "NO_CLIENT")
        value = _amount(amount)
        self._check(customer_id, "customerId")
        if reason is not None:
            self._check(reason, "reason")
        if value == 0:
            raise ValidationError("amount must not be zero", 0, "INVALID_SUMMARY", field="amount")
        index = int(self._clock() // self._size)
        usage = self._usage((index, customer_id, reason or self._reason), value)
        sql, params = sink.record_statement(usage)
        statement = Statement(
            sql,
            params,
            ready=sink.ready_for_record_blocking,
            aready=sink.ready_for_record,
            location=sink.location,
        )
        return execute(connection, statement)


def _amount(amount: Any) -> Decimal:
    try:
        return check.amount(amount, "amount")
    except ValidationError as exc:
        raise ValidationError(exc.message, 0, "INVALID_SUMMARY", field="amount") from None
