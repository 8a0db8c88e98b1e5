"""Answers of the client-side summary queue."""

from __future__ import annotations

from decimal import Decimal

from ._base import APIModel

__all__ = [
    "CloseReport",
    "DeadLetter",
    "FlushFailure",
    "FlushResult",
    "QueueState",
    "QueuedSummary",
]


class QueuedSummary(APIModel):
    """A summary as queued: validated, windowed, with its ``referenceId``."""

    customer_id: str
    delta: Decimal
    reason: str
    reference_id: str
    window_start: str
    window_end: str
    metadata: dict[str, object] = {}
    queued_at: str
    key: str


class FlushFailure(APIModel):
    customer_id: str
    reference_id: str | None = None
    error: str


class FlushResult(APIModel):
    """What one flush did. ``accepted``/``failed`` are the documented ones; the rest pacspace-sdk's."""

    profile: str
    started_at: str
    finished_at: str
    attempted: int = 0
    submitted: int = 0
    accepted: int = 0
    failed: int = 0
    replayed: int = 0
    request_count: int = 0
    queued_after_flush: int = 0
    dead_lettered: int = 0
    failures: list[FlushFailure] = []


class QueueState(APIModel):
    """Where the summary queue stands: pacspace-sdk's fields, then the outbox's by state.

    ``usage_rows`` are journaled usage not sealed yet; ``open_count`` summaries queued and
    still replaceable; ``pending_count`` sealed and waiting to be sent, of which
    ``sending_count`` are being sent right now; ages are seconds (of the oldest; ``None``
    when there is none). ``requests_per_minute`` is the pace now in force
    (``paced_by_service`` when the service's rate-limit headers set it)."""

    profile: str
    cadence_ms: int
    enterprise: bool
    queued_count: int
    is_running: bool
    next_flush_at: str | None = None
    max_queued: int
    dropped: int = 0
    dead_letters: int = 0
    outbox: str | None = None
    usage_rows: int = 0
    open_count: int = 0
    pending_count: int = 0
    sending_count: int = 0
    oldest_usage_seconds: float | None = None
    oldest_summary_seconds: float | None = None
    oldest_dead_seconds: float | None = None
    requests_per_minute: float = 10.0
    paced_by_service: bool = False
    max_deltas_per_request: int = 100


class CloseReport(APIModel):
    """What closing the client did with the usage this process held.

    ``undelivered``: this process's summaries (and unsealed usage rows) that were not
    acknowledged: kept in the ``outbox`` for the next client or drain, or ``lost`` with
    the process (held in memory, or refused by the outbox); a WARNING says so too.
    ``waiting``: rows other producers left in a shared outbox for a drain (INFO only:
    nothing of this process's is among them). ``dead_letters``: the outbox's, all of them.
    """

    flushed: FlushResult | None = None
    undelivered: int = 0
    lost: int = 0
    waiting: int = 0
    dead_letters: int = 0
    outbox: str | None = None
    error: str | None = None


class DeadLetter(APIModel):
    """A summary moved aside: unreadable, or refused by the service ``maxAttempts`` times."""

    id: int
    customer_id: str
    reason: str
    window_start: str
    window_end: str
    delta: Decimal
    reference_id: str
    attempts: int = 0
    last_error: str | None = None
