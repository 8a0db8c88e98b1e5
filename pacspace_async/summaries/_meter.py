"""In-process metering: sum usage per customer, reason and window; no I/O on ``add``.

``meter.add(customer_id, amount)`` is a dict update under a lock: it runs in the caller's
thread (in ``pacspace_sync`` too), sums exactly (``Decimal``; ten adds of ``0.1`` are
exactly ``1``) and never touches the network or the disk. Windows are aligned to UTC
(``"1d"`` is the UTC day). When a window has closed, the scheduler tick or the next
flush turns its totals into queued summaries (and outbox rows), one per customer and
reason; a window whose total is zero is dropped, since a summary of nothing records
nothing.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from .. import _options as opt
from .._errors import ValidationError
from ._summary import iso

__all__ = ["Meter", "parse_window"]

_WINDOW = re.compile(r"^(\d+)([smhd])$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


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


class Meter:
    """Aggregates usage in memory; closed windows become queued summaries."""

    def __init__(
        self,
        queue: Any,
        *,
        window: str = "1d",
        reason: str = "usage",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._size = parse_window(window)
        self._reason = opt.text(reason, "reason")
        self._queue = queue
        self._clock = clock
        self._lock = threading.Lock()
        self._totals: dict[tuple[int, str, str], int | Decimal] = {}
        self._index, self._opened, self._closes = 0, 0.0, 0.0
        self.window = window

    def __repr__(self) -> str:
        return f"Meter(window={self.window!r}, reason={self._reason!r}, open={len(self._totals)})"

    def add(
        self, customer_id: str, amount: int | float | str | Decimal, reason: str | None = None
    ) -> None:
        """Add ``amount`` (negative for consumption, as with emit) to the open window."""
        # The hot path: a type check, a clock read and a locked dict update. Ints are
        # summed as ints (int + Decimal is exact); anything else becomes a Decimal first.
        kind = type(amount)
        value: int | Decimal
        if kind is int or (kind is Decimal and amount.is_finite()):  # type: ignore[union-attr]
            value = amount  # type: ignore[assignment]
        else:
            try:
                value = opt.amount(amount, "amount")
            except ValidationError as exc:
                raise ValidationError(exc.message, 0, "INVALID_SUMMARY", field="amount") from None
        if type(customer_id) is not str or not customer_id:
            raise ValidationError(
                "customer_id must be a non-empty string", 0, "INVALID_SUMMARY", field="customerId"
            )
        now = self._clock()
        if not self._opened <= now < self._closes:
            self._roll(now)
        key = (self._index, customer_id, reason or self._reason)
        totals = self._totals
        with self._lock:
            totals[key] = totals.get(key, 0) + value

    def _roll(self, now: float) -> None:
        """The clock left the cached window: find the one it is in now."""
        index = int(now // self._size)
        self._index, self._opened, self._closes = (
            index,
            index * self._size,
            (index + 1) * self._size,
        )

    def snapshot(self) -> list[dict[str, Any]]:
        """The open aggregates: ``customerId``, ``delta``, ``reason``, ``windowStart``, ``windowEnd``."""
        with self._lock:
            items = list(self._totals.items())
        return [self._summary(key, Decimal(total)) for key, total in items]

    def close_windows(self, now: float | None = None) -> int:
        """Queue the totals of every window that has ended; returns how many were queued."""
        current = int((self._clock() if now is None else now) // self._size)
        with self._lock:
            closed = [(key, total) for key, total in self._totals.items() if key[0] < current]
            for key, _ in closed:
                del self._totals[key]
        queued = 0
        for key, total in closed:
            if total != 0:
                self._queue.queue(self._summary(key, Decimal(total)))
                queued += 1
        return queued

    def _summary(self, key: tuple[int, str, str], total: Decimal) -> dict[str, Any]:
        index, customer, reason = key
        start = datetime.fromtimestamp(index * self._size, timezone.utc)
        end = datetime.fromtimestamp((index + 1) * self._size, timezone.utc)
        return {
            "customerId": customer,
            "delta": total,
            "reason": reason,
            "windowStart": iso(start),
            "windowEnd": iso(end),
        }
