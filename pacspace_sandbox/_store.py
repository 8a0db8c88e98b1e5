"""Where the sandbox keeps things: one SQLite database, in memory or in a file.

A single implementation serves both modes (``":memory:"`` by default, ``--db PATH`` to
survive a restart), so the persistent path is exercised by every test, not only by the
restart test. Amounts are stored as decimal TEXT and summed in Python, never by SQLite's
floating-point ``SUM``. Every write the ledger makes for one request runs in one
transaction (:meth:`LedgerStore.transaction`): nothing is half-stored.

The store only stores: it knows tables and queries, not the rules.
"""

from __future__ import annotations

import decimal
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import Any, NamedTuple

__all__ = ["Row", "LedgerStore"]

Row = sqlite3.Row

_EXACT = decimal.Context(prec=80)
"""Sums of amounts (10^15 at most, 18 places) stay exact in 80 digits."""


class _Verified(NamedTuple):
    """A customer's verified deltas summed: those with ``seq <= top`` and
    ``verify_at <= through``."""

    top: int
    through: float
    total: Decimal
    rows: int


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
    replays         INTEGER NOT NULL DEFAULT 0,
    UNIQUE (customer_id, reference_id)
);
CREATE INDEX IF NOT EXISTS deltas_by_customer ON deltas (customer_id, created_at);
CREATE INDEX IF NOT EXISTS deltas_by_time ON deltas (created_at);
CREATE INDEX IF NOT EXISTS deltas_by_customer_seq ON deltas (customer_id, seq);
CREATE INDEX IF NOT EXISTS deltas_by_customer_due ON deltas (customer_id, verify_at);
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
    delivered_at    REAL,
    signed_at       TEXT
);
CREATE INDEX IF NOT EXISTS events_due ON webhook_events (status, next_attempt_at);
"""

_ADDED_COLUMNS = (
    # (table, column, definition): columns added after a release, so that a ``--db`` file
    # written by an older sandbox opens with them.
    ("deltas", "replays", "INTEGER NOT NULL DEFAULT 0"),
    ("webhook_events", "signed_at", "TEXT"),
)


class LedgerStore:
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
        for table, column, definition in _ADDED_COLUMNS:
            present = {row["name"] for row in self._db.execute(f"PRAGMA table_info({table})")}
            if column not in present:
                self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")
        self._lock = threading.RLock()
        self._depth = 0
        self._verified: dict[str, _Verified] = {}

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

    # -- the ledger's statements, by intent (the ledger holds the rules, not the SQL) ------

    def add_api_key(self, key: str, name: str, now: float) -> None:
        self.execute(
            "INSERT OR IGNORE INTO api_keys (api_key, name, created_at) VALUES (?, ?, ?)",
            [key, name, now],
        )

    def api_keys(self) -> set[str]:
        return {row["api_key"] for row in self.all("SELECT api_key FROM api_keys")}

    def session_email(self, token: str) -> str | None:
        row = self.one("SELECT email FROM sessions WHERE token = ?", [token])
        return None if row is None else str(row["email"])

    def end_session(self, token: str) -> None:
        self.execute("DELETE FROM sessions WHERE token = ?", [token])

    def customer(self, customer_id: str) -> Row | None:
        return self.one("SELECT * FROM customers WHERE customer_id = ?", [customer_id])

    def next_sequence(self, customer_id: str, now: float) -> int:
        """The customer's next sequence number, creating the customer on its first delta."""
        return int(
            self.all(
                "INSERT INTO customers (customer_id, created_at, next_sequence) VALUES (?, ?, 2) "
                "ON CONFLICT (customer_id) DO UPDATE SET next_sequence = next_sequence + 1 "
                "RETURNING next_sequence - 1",
                [customer_id, now],
            )[0][0]
        )

    def customers_page(self, search: str | None, limit: int, offset: int) -> tuple[int, list[Row]]:
        sql, args = "FROM customers", list[Any]()
        if search:
            sql += " WHERE lower(customer_id) LIKE ? OR lower(COALESCE(display_name, '')) LIKE ?"
            pattern = f"%{search.lower()}%"
            args = [pattern, pattern]
        total = int(self.scalar(f"SELECT COUNT(*) {sql}", args))
        rows = self.all(
            f"SELECT * {sql} ORDER BY customer_id LIMIT ? OFFSET ?", [*args, limit, offset]
        )
        return total, rows

    def deltas_counted_against_plan(self, since: float, now: float) -> int:
        return int(
            self.scalar(
                "SELECT COUNT(*) FROM deltas WHERE created_at >= ?"
                " AND NOT (outcome = 'FAILED' AND verify_at <= ?)",
                [since, now],
            )
        )

    def delta_by_reference(self, customer_id: str, reference_id: str) -> Row | None:
        return self.one(
            "SELECT * FROM deltas WHERE customer_id = ? AND reference_id = ?",
            [customer_id, reference_id],
        )

    def delta_by(self, column: str, value: str) -> Row | None:
        """One delta by ``record_id`` or ``receipt_id``."""
        assert column in ("record_id", "receipt_id")
        return self.one(f"SELECT * FROM deltas WHERE {column} = ?", [value])

    def verified_deltas(
        self,
        customer_id: str | None,
        now: float,
        *,
        after_seq: int | None = None,
        window: tuple[float, float] | None = None,
    ) -> list[Row]:
        """Verified deltas, in sequence order: after a checkpoint's last one, or in a window."""
        sql = "SELECT * FROM deltas WHERE outcome = 'VERIFIED' AND verify_at <= ?"
        params: list[Any] = [now]
        if customer_id is not None:
            sql += " AND customer_id = ?"
            params.append(customer_id)
        if after_seq is not None:
            sql += " AND seq > ?"
            params.append(after_seq)
        if window is not None:
            sql += " AND created_at >= ? AND created_at < ?"
            params += list(window)
        return self.all(sql + " ORDER BY seq", params)

    def pending_count(self, customer_id: str, now: float) -> int:
        return int(
            self.scalar(
                "SELECT COUNT(*) FROM deltas WHERE customer_id = ? AND verify_at > ?",
                [customer_id, now],
            )
        )

    def newest_deltas(self, customer_id: str, limit: int) -> list[Row]:
        return self.all(
            "SELECT * FROM deltas WHERE customer_id = ? ORDER BY seq DESC LIMIT ?",
            [customer_id, limit],
        )

    def deltas_page(
        self,
        customer_id: str,
        window: tuple[float, float] | None,
        limit: int,
        offset: int,
        known_total: int | None = None,
    ) -> tuple[int, list[Row]]:
        sql = "FROM deltas WHERE customer_id = ?"
        args: list[Any] = [customer_id]
        if window is not None:
            sql += " AND created_at >= ? AND created_at < ?"
            args += list(window)
        total = (
            known_total
            if window is None and known_total is not None
            else int(self.scalar(f"SELECT COUNT(*) {sql}", args))
        )
        rows = self.all(
            f"SELECT * {sql} ORDER BY seq DESC LIMIT ? OFFSET ?", [*args, limit, offset]
        )
        return total, rows

    def verified_total(self, customer_id: str, now: float) -> tuple[Decimal, int]:
        """The sum and count of a customer's deltas verified by ``now``, exact, read
        incrementally: a delta never changes once stored, so only those stored since the
        last answer (``seq``) or come due since (``verify_at``) are read again. The
        inspector asks this every second per open tab; summing 100,000 rows each time
        cost most of a core."""
        with self._lock:
            top = int(self.scalar("SELECT COALESCE(MAX(seq), 0) FROM deltas"))
            known = self._verified.get(customer_id)
            base = "SELECT amount FROM deltas WHERE customer_id = ? AND outcome = 'VERIFIED'"
            if known is None or now < known.through or top < known.top:
                total, count = Decimal(0), 0
                parts = [(f"{base} AND seq <= ? AND verify_at <= ?", [customer_id, top, now])]
            else:
                total, count = known.total, known.rows
                parts = [
                    (
                        f"{base} AND verify_at > ? AND verify_at <= ? AND seq <= ?",
                        [customer_id, known.through, now, known.top],
                    ),
                    (
                        f"{base} AND seq > ? AND seq <= ? AND verify_at <= ?",
                        [customer_id, known.top, top, now],
                    ),
                ]
            for sql, args in parts:
                for (amount,) in self._db.execute(sql, args):
                    total = _EXACT.add(total, Decimal(amount))
                    count += 1
            if not self._depth:  # never remember what a transaction may still undo
                self._verified[customer_id] = _Verified(top, now, total, count)
            return total, count

    def customer_counts(self, customer_id: str) -> tuple[int, float | None]:
        """(all deltas ever, the last one's time), in one statement."""
        row = self.one(  # as two subqueries, each answered from an index alone
            "SELECT (SELECT COUNT(*) FROM deltas WHERE customer_id = ?),"
            " (SELECT MAX(created_at) FROM deltas WHERE customer_id = ?)",
            [customer_id, customer_id],
        )
        return (0, None) if row is None else (int(row[0]), row[1])

    def customer_activity(
        self, customer_id: str, now: float, window: tuple[float, float] | None
    ) -> tuple[list[Row], int, float | None]:
        """(verified deltas in scope, all deltas ever, the last delta's time)."""
        verified = self.verified_deltas(customer_id, now, window=window)
        total = int(self.scalar("SELECT COUNT(*) FROM deltas WHERE customer_id = ?", [customer_id]))
        last = self.scalar(
            "SELECT MAX(created_at) FROM deltas WHERE customer_id = ?", [customer_id]
        )
        return verified, total, last

    def note_replays(self, record_ids: Sequence[str]) -> None:
        """Count a request that was answered with what an earlier one recorded."""
        for record_id in record_ids:
            self.execute("UPDATE deltas SET replays = replays + 1 WHERE record_id = ?", [record_id])

    def pending_amounts(self, customer_id: str, now: float) -> list[str]:
        rows = self.all(
            "SELECT amount FROM deltas WHERE customer_id = ? AND verify_at > ?",
            [customer_id, now],
        )
        return [row["amount"] for row in rows]

    def summary_deltas(self, limit: int) -> list[Row]:
        """The newest deltas a summary flush sent (metadata ``submissionType``
        ``tenant_summary``), with their window."""
        return self.all(
            "SELECT *, json_extract(metadata, '$.summaryWindowStart') AS window_start, "
            "json_extract(metadata, '$.summaryWindowEnd') AS window_end FROM deltas "
            "WHERE metadata IS NOT NULL "
            "AND json_extract(metadata, '$.submissionType') = 'tenant_summary' "
            "ORDER BY seq DESC LIMIT ?",
            [limit],
        )

    def deltas_since(self, since: float) -> list[Row]:
        return self.all("SELECT verify_at, outcome FROM deltas WHERE created_at >= ?", [since])

    def sequence_outcomes(self, customer_id: str, low: int, high: int) -> list[Row]:
        return self.all(
            "SELECT sequence_number, outcome, verify_at FROM deltas WHERE customer_id = ? "
            "AND sequence_number BETWEEN ? AND ? ORDER BY sequence_number",
            [customer_id, low, high],
        )

    def idempotent_answer(self, key: str) -> Row | None:
        return self.one("SELECT fingerprint, answer FROM idempotency WHERE key = ?", [key])

    def checkpoint(self, checkpoint_id: str) -> Row | None:
        return self.one("SELECT * FROM checkpoints WHERE checkpoint_id = ?", [checkpoint_id])

    def latest_checkpoint(self, customer_id: str | None) -> Row | None:
        return self.one(
            "SELECT * FROM checkpoints WHERE customer_id IS ? ORDER BY created_at DESC LIMIT 1",
            [customer_id],
        )

    def checkpoints_page(
        self, customer_id: str | None, window: tuple[float, float] | None, limit: int, offset: int
    ) -> tuple[int, list[Row]]:
        sql, args = "FROM checkpoints WHERE 1 = 1", list[Any]()
        if customer_id:
            sql += " AND customer_id = ?"
            args.append(customer_id)
        if window is not None:
            sql += " AND window_start < ? AND window_end > ?"
            args += [window[1], window[0]]
        total = int(self.scalar(f"SELECT COUNT(*) {sql}", args))
        rows = self.all(
            f"SELECT * {sql} ORDER BY created_at DESC LIMIT ? OFFSET ?", [*args, limit, offset]
        )
        return total, rows

    def add_proof(
        self,
        root: str,
        kind: str,
        customer_id: str | None,
        count: int,
        now: float,
        anchor: float,
        ref: str,
    ) -> None:
        self.execute(
            "INSERT OR IGNORE INTO proofs (proof_root, kind, customer_id, delta_count, created_at, "
            "anchor_at, ref) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [root, kind, customer_id, count, now, anchor, ref],
        )

    def proof(self, root: str) -> Row | None:
        return self.one("SELECT * FROM proofs WHERE proof_root = ?", [root])
