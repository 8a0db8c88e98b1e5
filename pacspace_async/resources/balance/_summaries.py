"""Summaries and meters: queue, flush, schedule, dead letters (no request of their own
but the batch the queue sends)."""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping
from typing import Any

from ... import _options as opt
from ... import _validate as check
from ...summaries import Meter
from ...types import DeadLetter, FlushResult, QueuedSummary, QueueState
from ._base import Room

__all__ = ["Summaries"]

_FLUSH = frozenset({"max_items"})


class Summaries(Room):
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
        merged = opt.merge(options, _FLUSH, {"max_items": max_items})
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
