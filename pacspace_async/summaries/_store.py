"""Where queued summaries wait: in memory, or in a durable SQLite outbox.

Both stores have one interface, so the queue has one flush path:

* ``put`` adds or replaces a summary by key (customer and window) and returns whether the
  key is new;
* ``pending`` lists summaries in queue order; ``ack`` removes the ones the server
  acknowledged (only if they were not replaced meanwhile); ``fail`` notes why one failed.

The outbox is the queue itself, not a copy: ``put`` has committed to disk (WAL,
``synchronous=FULL``) when it returns, a summary leaves only on ``ack``, and ``pending``
reads the file, so summaries queued before a crash, or by another process sharing the
file, are sent by the next flush. SQLite's locking keeps a shared file consistent; two
processes flushing at once may both send a summary, which its ``referenceId`` makes
harmless (the server records it once).
"""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from collections.abc import Iterable
from typing import Any, Protocol

from .. import _json

__all__ = ["MemoryStore", "OutboxStore", "Store"]


class Store(Protocol):
    @property
    def location(self) -> str | None: ...

    def put(self, item: dict[str, Any]) -> bool: ...
    def pending(self, limit: int | None = None) -> list[dict[str, Any]]: ...
    def ack(self, items: Iterable[dict[str, Any]]) -> None: ...
    def fail(self, item: dict[str, Any], error: str) -> None: ...
    def count(self) -> int: ...
    def has(self, key: str) -> bool: ...
    def close(self) -> None: ...


class MemoryStore:
    location = None

    def __init__(self) -> None:
        self._items: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def put(self, item: dict[str, Any]) -> bool:
        with self._lock:
            new = item["key"] not in self._items
            self._items[item["key"]] = item
            return new

    def pending(self, limit: int | None = None) -> list[dict[str, Any]]:
        with self._lock:
            items = list(self._items.values())
        return items if limit is None else items[:limit]

    def ack(self, items: Iterable[dict[str, Any]]) -> None:
        with self._lock:
            for item in items:
                current = self._items.get(item["key"])
                if current is not None and current["referenceId"] == item["referenceId"]:
                    del self._items[item["key"]]

    def fail(self, item: dict[str, Any], error: str) -> None:
        with self._lock:
            current = self._items.get(item["key"])
            if current is not None:
                current["lastError"] = error

    def count(self) -> int:
        return len(self._items)

    def has(self, key: str) -> bool:
        return key in self._items

    def close(self) -> None:
        pass


class OutboxStore:
    def __init__(self, path: str) -> None:
        self.location: str | None = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
        # Several processes may open a new file at once. Switching it to WAL needs an
        # exclusive lock, and SQLite answers a lock-upgrade deadlock with "database is
        # locked" at once, without waiting: so set-up retries for a while.
        for attempt in range(100):
            try:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=FULL")
                self._db.execute(
                    "CREATE TABLE IF NOT EXISTS summaries ("
                    " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
                    " key TEXT NOT NULL UNIQUE,"
                    " reference_id TEXT NOT NULL,"
                    " payload TEXT NOT NULL,"
                    " last_error TEXT)"
                )
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or attempt == 99:
                    raise
                time.sleep(0.01 + random.random() * 0.05)

    def put(self, item: dict[str, Any]) -> bool:
        payload = _json.dumps(item)
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                existed = self._db.execute(
                    "SELECT 1 FROM summaries WHERE key = ?", (item["key"],)
                ).fetchone()
                if existed:
                    self._db.execute(
                        "UPDATE summaries SET reference_id = ?, payload = ?, last_error = NULL "
                        "WHERE key = ?",
                        (item["referenceId"], payload, item["key"]),
                    )
                else:
                    self._db.execute(
                        "INSERT INTO summaries (key, reference_id, payload) VALUES (?, ?, ?)",
                        (item["key"], item["referenceId"], payload),
                    )
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        return not existed

    def pending(self, limit: int | None = None) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT payload, last_error FROM summaries ORDER BY seq LIMIT ?",
                (-1 if limit is None else limit,),
            ).fetchall()
        items = []
        for payload, error in rows:
            item = _json.loads(payload)
            if error:
                item["lastError"] = error
            items.append(item)
        return items

    def ack(self, items: Iterable[dict[str, Any]]) -> None:
        pairs = [(item["key"], item["referenceId"]) for item in items]
        if not pairs:
            return
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany("DELETE FROM summaries WHERE key = ? AND reference_id = ?", pairs)
            self._db.execute("COMMIT")

    def fail(self, item: dict[str, Any], error: str) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE summaries SET last_error = ? WHERE key = ? AND reference_id = ?",
                (error, item["key"], item["referenceId"]),
            )

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM summaries").fetchone()[0])

    def has(self, key: str) -> bool:
        with self._lock:
            return (
                self._db.execute("SELECT 1 FROM summaries WHERE key = ?", (key,)).fetchone()
                is not None
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()
