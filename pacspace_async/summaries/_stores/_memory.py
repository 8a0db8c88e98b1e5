"""The in-memory store: the default, for one process.

Its scope is its own random token. A forked child starts with an empty store under a new
token: what the parent holds stays the parent's to send.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from decimal import Decimal

from .._identity import after_fork, new_token, reference_id
from ._base import DEAD, OPEN, PENDING, Draft, HeldClaim, Stored, Usage

__all__ = ["MemoryStore"]

log = logging.getLogger("pacspace")

_Key = tuple[str, str, str, str]


class MemoryStore:
    location: str | None = None
    blocking = False

    def __init__(self, *, max_attempts: int = 3) -> None:
        self._max_attempts = max_attempts
        self._reset()
        after_fork(self)

    def _reset(self) -> None:
        self.scope = f"mem:{new_token()}"
        self._lock = threading.Lock()
        self._summaries: dict[int, Stored] = {}
        self._open: dict[tuple[str, _Key], int] = {}
        self._usage: dict[tuple[str, _Key], tuple[Decimal, float]] = {}
        self._claimed: set[int] = set()
        self._slices = 0

    def _after_fork_in_child(self) -> None:
        self._reset()

    def _new(self, key: _Key, delta: Decimal, reference: str | None, **extra: object) -> Stored:
        self._slices += 1
        item = Stored(
            self._slices,
            *key,
            delta=delta,
            reference_id=reference or reference_id(self.scope, *key, self._slices),
            **extra,  # type: ignore[arg-type]
        )
        self._summaries[item.id] = item
        return item

    def put(self, draft: Draft, producer: str) -> Stored:
        key = (draft.customer_id, draft.reason, draft.window_start, draft.window_end)
        with self._lock:
            current = self._summaries.get(self._open.get((producer, key), 0))
            if current is not None and current.state == OPEN:
                current.delta, current.metadata = draft.delta, draft.metadata
                current.queued_at, current.last_error = draft.queued_at, None
                if draft.reference_id is not None:
                    current.reference_id = draft.reference_id
                return current
            item = self._new(
                key,
                draft.delta,
                draft.reference_id,
                metadata=draft.metadata,
                queued_at=draft.queued_at,
                state=OPEN,
            )
            self._open[(producer, key)] = item.id
            return item

    def journal(self, rows: Sequence[Usage], producer: str) -> None:
        with self._lock:
            for row in rows:
                key = (producer, (row.customer_id, row.reason, row.window_start, row.window_end))
                total, _ = self._usage.get(key, (Decimal(0), 0.0))
                self._usage[key] = (total + row.amount, row.window_end_at)

    def seal(self, *, until: float, producer: str | None = None, queued: bool = False) -> int:
        sealed = 0
        with self._lock:
            due: dict[_Key, Decimal] = {}
            for (owner, key), (total, end_at) in list(self._usage.items()):
                if end_at <= until or owner == producer:
                    due[key] = due.get(key, Decimal(0)) + total
                    del self._usage[(owner, key)]
            for key, total in due.items():
                if total != 0:
                    self._new(key, total, None, state=PENDING)
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

    def has_open(self, producer: str, draft: Draft) -> bool:
        key = (draft.customer_id, draft.reason, draft.window_start, draft.window_end)
        item = self._summaries.get(self._open.get((producer, key), 0))
        return item is not None and item.state == OPEN

    def usage_rows(self) -> int:
        return len(self._usage)

    def dead_letters(self, limit: int = 100) -> list[Stored]:
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

    def pending_total(self) -> tuple[int, Decimal]:
        """How many summaries and how much usage this store holds (unsealed usage included)."""
        with self._lock:
            items = [i for i in self._summaries.values() if i.state != DEAD]
            total = sum((i.delta for i in items), Decimal(0))
            total += sum((t for t, _ in self._usage.values()), Decimal(0))
            return len(items) + len(self._usage), total

    def close(self) -> None:
        pass

    # -- settling a claim ---------------------------------------------------------------

    def _settle(
        self,
        claimed: Sequence[Stored],
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

    def _release(self, claimed: Sequence[Stored]) -> None:
        with self._lock:
            self._claimed.difference_update(item.id for item in claimed)
