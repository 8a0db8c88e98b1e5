"""The in-memory store: the default, for one process.

Its scope is its own random token. A forked child starts with an empty store under a new
token: what the parent holds stays the parent's to send.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any

from .._identity import after_fork, new_token, reference_id
from ._base import DEAD, OPEN, PENDING, HeldClaim, Record, Refused, Stats, needs_postgres

__all__ = ["MemoryStore"]

_Key = tuple[str, str, str, str]


class MemoryStore:
    location: str | None = None
    blocking = False
    durable = False

    def __init__(self, *, max_attempts: int = 3) -> None:
        self._max_attempts = max_attempts
        self._reset()
        after_fork(self)

    def _reset(self) -> None:
        self.scope = f"mem:{new_token()}"
        self._lock = threading.Lock()
        self._summaries: dict[int, Record] = {}
        self._open: dict[tuple[str, _Key], int] = {}
        self._usage: dict[tuple[str, _Key], Record] = {}
        self._claimed: set[int] = set()
        self._slices = 0

    def _after_fork_in_child(self) -> None:
        self._reset()

    def _new(self, record: Record, state: str) -> Record:
        self._slices += 1
        item = replace(record, id=self._slices, state=state)
        if item.reference_id is None:
            item.reference_id = reference_id(self.scope, *item.aggregate, item.id)
        self._summaries[item.id] = item
        return item

    def put(self, summary: Record, producer: str) -> Record:
        with self._lock:
            current = self._summaries.get(self._open.get((producer, summary.aggregate), 0))
            if current is not None and current.state == OPEN:
                current.delta, current.metadata = summary.delta, summary.metadata
                current.queued_at, current.last_error = summary.queued_at, None
                if summary.reference_id is not None:
                    current.reference_id = summary.reference_id
                return current
            item = self._new(replace(summary, producer=producer), OPEN)
            self._open[(producer, summary.aggregate)] = item.id
            return item

    def journal(self, rows: Sequence[Record], producer: str) -> list[Refused]:
        with self._lock:
            for row in rows:
                key = (producer, row.aggregate)
                held = self._usage.get(key)
                if held is None:
                    self._usage[key] = replace(row, producer=producer)
                else:
                    held.delta += row.delta
        return []

    def seal(self, *, until: float, producer: str | None = None, queued: bool = False) -> int:
        sealed = 0
        with self._lock:
            due: dict[_Key, Record] = {}
            for (owner, key), row in list(self._usage.items()):
                if row.window_end_at <= until or owner == producer:
                    total = due.get(key)
                    if total is None:
                        due[key] = replace(row, metadata={})
                    else:
                        total.delta += row.delta
                        if total.producer != row.producer:
                            total.producer = None  # aggregated from several producers
                    del self._usage[(owner, key)]
            for row in due.values():
                if row.delta != 0:
                    self._new(row, PENDING)
                    sealed += 1
            if queued:
                for item in self._summaries.values():
                    if item.state == OPEN:
                        item.state = PENDING
                        sealed += 1
                self._open.clear()
        return sealed

    def claim(self, limit: int, after: int = 0) -> HeldClaim:
        with self._lock:
            items = [
                item
                for item in self._summaries.values()
                if item.state == PENDING and item.id > after and item.id not in self._claimed
            ][:limit]
            self._claimed.update(item.id for item in items)
        return HeldClaim(items, self._settle, self._release)

    def count(self) -> int:
        with self._lock:
            return sum(1 for item in self._summaries.values() if item.state != DEAD)

    def has_open(self, producer: str, summary: Record) -> bool:
        item = self._summaries.get(self._open.get((producer, summary.aggregate), 0))
        return item is not None and item.state == OPEN

    def stats(self, producer: str | None = None) -> Stats:
        """Everything in memory is this process's own (a child starts empty)."""
        with self._lock:
            live = [i for i in self._summaries.values() if i.state != DEAD]
            usage = list(self._usage.values())
            dead = sum(1 for i in self._summaries.values() if i.state == DEAD)
            sending = sum(1 for i in live if i.id in self._claimed)
        now = time.time()
        total = sum((i.delta for i in live), Decimal(0)) + sum(
            (row.delta for row in usage), Decimal(0)
        )
        return Stats(
            usage=len(usage),
            open=sum(1 for i in live if i.state == OPEN),
            pending=sum(1 for i in live if i.state == PENDING),
            sending=sending,
            dead=dead,
            own_usage=len(usage),
            own_summaries=len(live),
            own_total=total,
            oldest_usage=_age(now, [r.window_end_at for r in usage]),
        )

    def dead_letters(self, limit: int = 100) -> list[Record]:
        with self._lock:
            return [item for item in self._summaries.values() if item.state == DEAD][:limit]

    def dead_count(self) -> int:
        with self._lock:
            return sum(1 for item in self._summaries.values() if item.state == DEAD)

    def retry_dead(self, ids: Sequence[int] | None = None) -> int:
        with self._lock:
            moved = 0
            for item in self._summaries.values():
                if item.state == DEAD and (ids is None or item.id in ids):
                    item.state, item.attempts = PENDING, 0
                    moved += 1
            return moved

    def ensure_ready(self) -> None:
        """Nothing to create beyond what opening made."""

    def record_statement(self, row: Record) -> tuple[str, tuple[Any, ...]]:
        raise needs_postgres()

    def close(self) -> None:
        pass

    # -- settling a claim ---------------------------------------------------------------

    def _settle(
        self,
        claimed: Sequence[Record],
        acked: Sequence[int],
        refused: Sequence[tuple[int, str]],
        failed: Sequence[tuple[int, str]],
    ) -> list[int]:
        dead: list[int] = []
        with self._lock:
            for id_ in acked:
                self._summaries.pop(id_, None)
            for id_, error in refused:
                item = self._summaries.get(id_)
                if item is not None:
                    item.attempts += 1
                    item.last_error = error
                    if item.attempts >= self._max_attempts:
                        item.state = DEAD
                        dead.append(id_)
            for id_, error in failed:
                item = self._summaries.get(id_)
                if item is not None:
                    item.last_error = error
            self._claimed.difference_update(item.id for item in claimed)
        return dead

    def _release(self, claimed: Sequence[Record]) -> None:
        with self._lock:
            self._claimed.difference_update(item.id for item in claimed)


def _age(now: float, window_ends: list[float]) -> float | None:
    """Seconds since the oldest of these windows ended (0 while it is still open)."""
    return max(0.0, now - min(window_ends)) if window_ends else None
