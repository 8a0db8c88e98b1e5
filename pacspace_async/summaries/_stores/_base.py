"""What every store keeps, and the one protocol the queue talks to.

A store holds three things, for one owner (see :mod:`.._identity`):

* **usage rows**: partial totals of one customer, reason and window (a meter's journal,
  or ``meter.record`` in a caller's transaction). Insert-only across producers: a
  producer only ever adds to its own unsealed row, and PostgreSQL's recorded rows are
  never updated at all;
* **summaries**: ``open`` (queued by ``queue_summary``: its producer may still replace
  it), ``pending`` (sealed: its amount and ``referenceId`` are fixed) or ``dead`` (the
  dead letters: unreadable, or refused by the service ``maxAttempts`` times);
* the **scope** token that makes its ``referenceId`` values its own.

``seal`` turns usage rows of ended windows (and, at close, a producer's open windows) into
pending summaries, one per customer, reason and window, in one transaction: a slice is
fixed once, so resending it after a crash sends the same amount under the same id.
``claim`` hands out pending summaries for sending; only ``settle`` removes them, after the
service answered.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from .._identity import summary_key

__all__ = ["Claim", "Draft", "HeldClaim", "Store", "Stored", "Usage"]

OPEN, PENDING, DEAD = "open", "pending", "dead"


@dataclass(frozen=True)
class Draft:
    """A validated summary from ``queue_summary``, before a store gives it a slice."""

    customer_id: str
    reason: str
    window_start: str
    window_end: str
    window_end_at: float
    delta: Decimal
    metadata: dict[str, Any]
    reference_id: str | None
    queued_at: str


@dataclass(frozen=True)
class Usage:
    """A partial total of one customer, reason and window."""

    customer_id: str
    reason: str
    window_start: str
    window_end: str
    window_end_at: float
    amount: Decimal


@dataclass
class Stored:
    """A summary as a store holds it."""

    id: int
    customer_id: str
    reason: str
    window_start: str
    window_end: str
    delta: Decimal
    reference_id: str
    metadata: dict[str, Any] = field(default_factory=dict)
    queued_at: str = ""
    state: str = PENDING
    attempts: int = 0
    last_error: str | None = None
    owner: str | None = None

    @property
    def key(self) -> str:
        return summary_key(self.customer_id, self.reason, self.window_start, self.window_end)


class Claim(Protocol):
    """Pending summaries handed out for one send; another sender does not get them."""

    items: list[Stored]

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
    [Sequence[Stored], Sequence[int], Sequence[tuple[int, str]], Sequence[tuple[int, str]]],
    list[int],
]


class HeldClaim:
    """A :class:`Claim` whose store keeps the hold itself (a set in memory, a lease in a
    file): settling or releasing hands the items back to the store's callbacks, once."""

    def __init__(
        self, items: list[Stored], settle: Settle, release: Callable[[Sequence[Stored]], None]
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
    """Whether calls do I/O: async code runs them in a worker thread."""

    def put(self, draft: Draft, producer: str) -> Stored:
        """Queue ``draft``, replacing ``producer``'s open summary of the same key."""
        ...

    def journal(self, rows: Sequence[Usage], producer: str) -> None:
        """Add ``rows`` to ``producer``'s unsealed usage (one transaction)."""
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

    def has_open(self, producer: str, draft: Draft) -> bool: ...

    def usage_rows(self) -> int:
        """Unsealed usage rows."""
        ...

    def dead_letters(self, limit: int = 100) -> list[Stored]: ...

    def dead_count(self) -> int:
        """How many dead letters there are (all of them, not a page)."""
        ...

    def retry_dead(self, ids: Sequence[int] | None = None) -> int:
        """Move dead letters (all, or ``ids``) back to pending; returns how many."""
        ...

    def close(self) -> None: ...
