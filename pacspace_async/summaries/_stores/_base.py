"""What every store keeps, the one record shape it keeps it in, and the protocol the queue
talks to.

A store holds, for one owner (see :mod:`.._identity`):

* **usage**: partial totals of one customer, reason and window (a meter's journal, or
  ``meter.record`` in a caller's transaction). Insert-only across producers: a producer
  only ever adds to its own unsealed row, and PostgreSQL's recorded rows are never
  updated at all;
* **summaries**: ``open`` (queued by ``queue_summary``: its producer may still replace
  it), ``pending`` (sealed: its amount and ``referenceId`` are fixed) or ``dead`` (the
  dead letters: unreadable, refused by the service ``maxAttempts`` times, or refused by
  the store itself);
* the **scope** token that makes its ``referenceId`` values its own.

Every one of these is a :class:`Record`, from ``meter.add`` or ``queue_summary`` to the
wire: a row keeps the fields it has (usage has no ``referenceId`` until it is sealed).

``seal`` turns usage of ended windows (and, at close or on an explicit flush, a
producer's open windows) into pending summaries, one per customer, reason and window, in
one transaction: a slice is fixed once, so resending it after a crash sends the same
amount under the same id. ``claim`` hands out pending summaries for sending; only
``settle`` removes them, after the service answered.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from ..._errors import PacSpaceError
from .._identity import summary_key

__all__ = [
    "Claim",
    "HeldClaim",
    "Record",
    "Refused",
    "Stats",
    "Store",
    "needs_postgres",
    "storable",
]

OPEN, PENDING, DEAD = "open", "pending", "dead"


@dataclass
class Record:
    """One aggregate of usage: a customer, a reason, a window and an amount, as it goes
    from a meter or ``queue_summary`` through a store to the wire."""

    customer_id: str
    reason: str
    window_start: str
    window_end: str
    window_end_at: float
    delta: Decimal
    reference_id: str | None = None
    """The caller's own, or the one its store minted (``None`` for unsealed usage)."""
    metadata: dict[str, Any] = field(default_factory=dict)
    queued_at: str = ""
    id: int = 0
    """The store's number for it (0 before it is stored)."""
    state: str = PENDING
    attempts: int = 0
    last_error: str | None = None
    producer: str | None = None
    """Who queued or sealed it alone (``None``: the fleet's, sealed from several)."""

    @classmethod
    def stored(cls, row: Any, delta: Decimal, metadata: dict[str, Any]) -> Record:
        """A summary row as a store reads it back (``row``: by column name), its amount
        and metadata already decoded in the store's own way."""
        return cls(
            row["customer_id"],
            row["reason"],
            row["window_start"],
            row["window_end"],
            0.0,
            delta,
            row["reference_id"] or None,
            metadata,
            row["queued_at"],
            int(row["id"]),
            row["state"],
            int(row["attempts"]),
            row["last_error"],
            row["producer"],
        )

    @property
    def key(self) -> str:
        return summary_key(self.customer_id, self.reason, self.window_start, self.window_end)

    @property
    def aggregate(self) -> tuple[str, str, str, str]:
        """Customer, reason and window: what one summary aggregates."""
        return (self.customer_id, self.reason, self.window_start, self.window_end)

    def wire(self, profile: str) -> dict[str, Any]:
        """The batch endpoint's item, with the official client's summary metadata."""
        return {
            "customerId": self.customer_id,
            "delta": self.delta,
            "reason": self.reason,
            "referenceId": self.reference_id,
            "metadata": {
                "summaryWindowStart": self.window_start,
                "summaryWindowEnd": self.window_end,
                "summaryProfile": profile,
                "submissionType": "tenant_summary",
                **self.metadata,
            },
        }

    def answer(self) -> dict[str, Any]:
        """The public answer's fields (``QueuedSummary``, ``DeadLetter``), by wire name."""
        return {
            "id": self.id,
            "customerId": self.customer_id,
            "delta": self.delta,
            "reason": self.reason,
            "referenceId": self.reference_id or "",
            "windowStart": self.window_start,
            "windowEnd": self.window_end,
            "metadata": self.metadata,
            "queuedAt": self.queued_at,
            "key": self.key,
            "attempts": self.attempts,
            "lastError": self.last_error,
        }


@dataclass(frozen=True)
class Refused:
    """A usage row a store refused (a value its database cannot hold)."""

    row: Record
    reason: str
    """The database's words."""
    buried: bool
    """Kept as a dead letter (escaped, never sent); else lost."""


def storable(text: str) -> str:
    """``text`` as any store can hold it: control characters and lone surrogates escaped
    (a dead letter of a row a store refused must itself be storable)."""
    escaped = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return "".join(c if c >= " " else f"\\x{ord(c):02x}" for c in escaped)


@dataclass(frozen=True)
class Stats:
    """What a store holds, by state, for ``pacspace outbox list`` and the close report.

    ``own_*`` are the given producer's (its open summaries, the summaries it sealed
    alone, its unsealed usage rows); the rest belong to other producers or the fleet.
    Ages are in seconds, of the oldest item (``None`` when there is none).
    """

    usage: int = 0
    """Unsealed usage rows (journaled, or recorded in a caller's transaction)."""
    open: int = 0
    pending: int = 0
    sending: int = 0
    """Pending summaries a sender holds right now (a lease, or a row lock)."""
    dead: int = 0
    own_usage: int = 0
    own_summaries: int = 0
    own_total: Decimal = Decimal(0)
    """The amount of the producer's open and pending summaries and unsealed usage."""
    oldest_usage: float | None = None
    oldest_summary: float | None = None
    oldest_dead: float | None = None

    @property
    def others(self) -> int:
        """Rows of other producers (or of the fleet) waiting for a seal or a drain."""
        return self.usage + self.open + self.pending - self.own_usage - self.own_summaries


class Claim(Protocol):
    """Pending summaries handed out for one send; another sender does not get them."""

    items: list[Record]

    def settle(
        self,
        acked: Sequence[int],
        refused: Sequence[tuple[int, str]],
        failed: Sequence[tuple[int, str]],
    ) -> list[int]:
        """Remove ``acked``; count a refusal against each of ``refused`` (moving those at
        ``max_attempts`` to the dead letters, whose ids are returned); note the error of
        ``failed`` (a request that got no answer is nobody's fault)."""
        ...

    def release(self) -> None:
        """Give the items back unsent (idempotent; a no-op after ``settle``)."""
        ...


Settle = Callable[
    [Sequence[Record], Sequence[int], Sequence[tuple[int, str]], Sequence[tuple[int, str]]],
    list[int],
]


class HeldClaim:
    """A :class:`Claim` whose store keeps the hold itself (a set in memory, a lease in a
    file): settling or releasing hands the items back to the store's callbacks, once."""

    def __init__(
        self, items: list[Record], settle: Settle, release: Callable[[Sequence[Record]], None]
    ) -> None:
        self.items = items
        self._settle = settle
        self._release = release
        self._done = not items

    def settle(
        self,
        acked: Sequence[int],
        refused: Sequence[tuple[int, str]],
        failed: Sequence[tuple[int, str]],
    ) -> list[int]:
        self._done = True
        return self._settle(self.items, acked, refused, failed)

    def release(self) -> None:
        if not self._done:
            self._done = True
            self._release(self.items)


class Store(Protocol):
    scope: str
    """The identity scope of every ``referenceId`` this store mints."""
    location: str | None
    """Where it is (a path, or a URL without its password), for messages; ``None`` in memory."""
    blocking: bool
    """Whether calls do I/O: async code runs them in a worker thread (and a gauge never
    asks a blocking store)."""
    durable: bool
    """Whether what it holds outlives the process (an outbox), so that other processes
    may share it: windows are then sealed after a grace for their last journals."""

    def put(self, summary: Record, producer: str) -> Record:
        """Queue ``summary``, replacing ``producer``'s open summary of the same key."""
        ...

    def journal(self, rows: Sequence[Record], producer: str) -> list[Refused]:
        """Add ``rows`` to ``producer``'s unsealed usage (one transaction). A row the store
        refuses (a value the database cannot hold) never stops the others: it becomes a
        dead letter with the database's reason. Returns the rows it refused. Raises
        ``OutboxError`` when the store cannot be used at all (nothing is kept then)."""
        ...

    def seal(self, *, until: float, producer: str | None = None, queued: bool = False) -> int:
        """Seal usage of windows ended by ``until`` (and all of ``producer``'s, if given)
        into pending summaries; with ``queued``, open summaries become pending too.
        Returns how many summaries were made pending."""
        ...

    def claim(self, limit: int, after: int = 0) -> Claim:
        """Up to ``limit`` pending summaries with ids above ``after``, in id order."""
        ...

    def count(self) -> int:
        """Open and pending summaries (the queue's length)."""
        ...

    def has_open(self, producer: str, summary: Record) -> bool: ...

    def stats(self, producer: str | None = None) -> Stats:
        """Counts and ages by state, without changing anything."""
        ...

    def dead_letters(self, limit: int = 100) -> list[Record]: ...

    def dead_count(self) -> int:
        """How many dead letters there are (all of them, not a page)."""
        ...

    def retry_dead(self, ids: Sequence[int] | None = None) -> int:
        """Move dead letters (all, or ``ids``) back to pending; returns how many. A dead
        letter with no ``referenceId`` (a row the store refused) can never be sent."""
        ...

    def ensure_ready(self) -> None:
        """Make the store usable (create what is missing of a schema); no-op where there
        is nothing to create."""
        ...

    def record_statement(self, row: Record) -> tuple[str, tuple[Any, ...]]:
        """The one INSERT ``meter.record`` runs in the caller's own transaction. A store
        the caller's transaction cannot reach raises ``OUTBOX_REQUIRED``
        (:func:`needs_postgres`)."""
        ...

    def close(self) -> None: ...


def needs_postgres() -> PacSpaceError:
    """``meter.record`` on a store outside the caller's database."""
    return PacSpaceError(
        "meter.record() needs a PostgreSQL outbox: "
        "PacSpace(submission={'outbox': 'postgresql://...'}).",
        0,
        "OUTBOX_REQUIRED",
    )
