"""Where the sandbox keeps things: one SQLite database, in memory or in a file.

A single implementation serves both modes (``":memory:"`` by default, ``--db PATH`` to
survive a restart), so the persistent path is exercised by every test, not only by the
restart test. Amounts are stored as decimal TEXT and summed in Python, never by SQLite's
floating-point ``SUM``. Every write the ledger makes for one request runs in one
transaction (:meth:`Store.transaction`): nothing is half-stored.

The store only stores: it knows tables and queries, not the rules.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

__all__ = ["Row", "Store"]

Row = sqlite3.Row

_SCHEMA = """
CREATE TABLE IF NOT EXISTS customers (
    customer_id   TEXT PRIMARY KEY,
    display_name  TEXT,
    unit_label    TEXT,
    event_cadence TEXT,
    created_at    REAL NOT NULL,
    next_sequence INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS deltas (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    record_id       TEXT NOT NULL UNIQUE,
    receipt_id      TEXT NOT NULL UNIQUE,
    customer_id     TEXT NOT NULL,
    sequence_number INTEGER NOT NULL,
    amount          TEXT NOT NULL,
    reason          TEXT NOT NULL,
    reference_id    TEXT,
    metadata        TEXT,
    adjusts         TEXT,
    created_at      REAL NOT NULL,
    verify_at       REAL NOT NULL,
    outcome         TEXT NOT NULL,
    content_hash    TEXT NOT NULL,
    UNIQUE (customer_id, reference_id)
);
CREATE INDEX IF NOT EXISTS deltas_by_customer ON deltas (customer_id, created_at);
CREATE INDEX IF NOT EXISTS deltas_by_time ON deltas (created_at);
CREATE TABLE IF NOT EXISTS idempotency (
    key         TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    answer      TEXT NOT NULL,
    created_at  REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS checkpoints (
    checkpoint_id    TEXT PRIMARY KEY,
    customer_id      TEXT,
    scope            TEXT NOT NULL,
    window_start     REAL NOT NULL,
    window_end       REAL NOT NULL,
    proof_root       TEXT NOT NULL,
    delta_count      INTEGER NOT NULL,
    computed_balance TEXT NOT NULL,
    last_seq         INTEGER NOT NULL,
    created_at       REAL NOT NULL,
    verify_at        REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS proofs (
    proof_root  TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    customer_id TEXT,
    delta_count INTEGER NOT NULL,
    created_at  REAL NOT NULL,
    anchor_at   REAL NOT NULL,
    ref         TEXT
);
CREATE TABLE IF NOT EXISTS api_keys (
    api_key    TEXT PRIMARY KEY,
    name       TEXT,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    token      TEXT PRIMARY KEY,
    email      TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS webhook_events (
    event_id        TEXT PRIMARY KEY,
    event           TEXT NOT NULL,
    payload         TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    created_at      REAL NOT NULL,
    next_attempt_at REAL NOT NULL,
    delivered_at    REAL
);
CREATE INDEX IF NOT EXISTS events_due ON webhook_events (status, next_attempt_at);
"""


class Store:
    """A SQLite connection with the sandbox's schema.

    The connection is shared by the threads that may serve requests (an in-process
    sandbox driven from a sync facade's loop thread, uvicorn's loop); a lock serialises
    access, and each statement is short.
    """

    def __init__(self, path: str = ":memory:") -> None:
        self.path = path
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        if path != ":memory:":
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.RLock()
        self._depth = 0

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes inside commit together or not at all (nested calls join the outer)."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self._db.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            else:
                self._db.execute("COMMIT")
            finally:
                self._depth = 0

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self._lock:
            return self._db.execute(sql, params).rowcount

    def insert(self, table: str, row: dict[str, Any]) -> int:
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        with self._lock:
            cursor = self._db.execute(
                f"INSERT INTO {table} ({columns}) VALUES ({marks})", tuple(row.values())
            )
            return cursor.lastrowid or 0

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        with self._lock:
            result: Row | None = self._db.execute(sql, params).fetchone()
            return result

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        with self._lock:
            return list(self._db.execute(sql, params).fetchall())

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = self.one(sql, params)
        return None if row is None else row[0]
