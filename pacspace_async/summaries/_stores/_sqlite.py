"""The SQLite outbox: durable summaries for every process of one host.

The outbox is the queue itself, not a copy: ``put`` and ``journal`` have committed (WAL,
``synchronous=FULL``) when they return, and a summary leaves only when the service
acknowledged it. Processes sharing the file add their own rows and never overwrite each
other's; its scope is a token stored in the file, so slices sealed by any of them are
numbered by the file. Sending is leased to one process at a time: a lease held by a
process that no longer exists (this is one host) is taken over at once.

Every ``sqlite3`` failure becomes an :class:`~pacspace_async.OutboxError` that names the
file and what to do; a row that cannot be read moves to the dead letters instead of
blocking the rows behind it.
"""

from __future__ import annotations

import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from ... import _json
from ..._errors import OutboxError
from .._identity import new_token, reference_id
from ._base import DEAD, OPEN, PENDING, Draft, HeldClaim, Stored, Usage

__all__ = ["SQLiteStore", "outbox_error"]

T = TypeVar("T")
LEASE = 120.0
"""Seconds a process may hold pending summaries while sending them."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS pacspace_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS pacspace_summaries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    owner TEXT NOT NULL,
    producer TEXT,
    state TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    window_start TEXT NOT NULL,
    window_end TEXT NOT NULL,
    delta TEXT NOT NULL,
    reference_id TEXT,
    metadata TEXT NOT NULL DEFAULT '{}',
    queued_at TEXT NOT NULL DEFAULT '',
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    lease_until REAL NOT NULL DEFAULT 0,
    lease_pid INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS pacspace_summaries_queue ON pacspace_summaries (owner, state, id);
CREATE TABLE IF NOT EXISTS pacspace_usage (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    owner TEXT NOT NULL,
    producer TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    window_start TEXT NOT NULL,
    window_end TEXT NOT NULL,
    window_end_at REAL NOT NULL,
    amount TEXT NOT NULL,
    UNIQUE (owner, producer, customer_id, reason, window_start, window_end)
);
"""

_ADVICE = {
    "SQLITE_FULL": "the disk holding it is full (or the file reached its size limit): free space",
    "SQLITE_READONLY": "it is read-only here: give this process write access to the file and its folder",
    "SQLITE_CANTOPEN": "it cannot be opened: check that its folder exists and is writable",
    "SQLITE_CORRUPT": "it is corrupt: move it aside and start again (`pacspace outbox list --outbox PATH` shows what can still be read)",
    "SQLITE_NOTADB": "it is not an SQLite outbox: point outbox at another path, or move the file aside",
    "SQLITE_BUSY": "another process kept it locked for too long: retry, or give each service its own outbox",
    "SQLITE_IOERR": "the disk reported an I/O error: check the disk, then retry",
}
_HINTS = (
    ("full", "SQLITE_FULL"),
    ("readonly", "SQLITE_READONLY"),
    ("unable to open", "SQLITE_CANTOPEN"),
    ("malformed", "SQLITE_CORRUPT"),
    ("not a database", "SQLITE_NOTADB"),
    ("locked", "SQLITE_BUSY"),
    ("disk i/o", "SQLITE_IOERR"),
)


def outbox_error(path: str, exc: sqlite3.Error) -> OutboxError:
    """The ``OutboxError`` for a ``sqlite3`` failure: which file, what happened, what to do."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    text = str(exc).lower()
    base = next((code for code in _ADVICE if name.startswith(code)), None)
    if base is None:
        base = next((code for hint, code in _HINTS if hint in text), None)
    advice = _ADVICE.get(base or "", "check the file, then retry")
    return OutboxError(
        f"Summary outbox {path!r} failed ({exc}): {advice}. Summaries already queued in it are kept.",
        path,
    )


def _row(row: sqlite3.Row) -> Stored:
    """A summary row; raises ``ValueError`` when it cannot be read."""
    try:
        delta = Decimal(row["delta"])
        if not delta.is_finite():
            raise InvalidOperation
    except (InvalidOperation, TypeError):
        raise ValueError(f"unreadable delta {row['delta']!r}") from None
    try:
        metadata = _json.loads(row["metadata"])
    except Exception:
        raise ValueError(f"unreadable metadata {row['metadata']!r:.80}") from None
    if not isinstance(metadata, dict) or not row["reference_id"]:
        raise ValueError("metadata is not an object, or the referenceId is missing")
    return _stored(row, delta, metadata)


def _stored(row: sqlite3.Row, delta: Decimal, metadata: dict[str, Any]) -> Stored:
    return Stored(
        row["id"],
        row["customer_id"],
        row["reason"],
        row["window_start"],
        row["window_end"],
        delta,
        row["reference_id"] or "",
        metadata,
        row["queued_at"],
        row["state"],
        row["attempts"],
        row["last_error"],
        row["owner"],
    )


class SQLiteStore:
    blocking = True

    def __init__(self, path: str, owner: str, *, max_attempts: int = 3) -> None:
        self.location: str | None = path
        self._path = path
        self._owner = owner
        self._max_attempts = max_attempts
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._pid = 0
        self.scope = ""
        self._connect()

    # -- connection ---------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        if self._db is not None and self._pid == os.getpid():
            return self._db
        if self._db is not None:
            # Inherited across fork(): closing it here could checkpoint the parent's WAL
            # under it. Keep it referenced, unused, and open our own.
            _INHERITED.append(self._db)
        try:
            db = sqlite3.connect(
                self._path, timeout=30, check_same_thread=False, isolation_level=None
            )
            db.row_factory = sqlite3.Row
            self._setup(db)
        except sqlite3.Error as exc:
            raise outbox_error(self._path, exc) from None
        self._db, self._pid = db, os.getpid()
        return db

    def _setup(self, db: sqlite3.Connection) -> None:
        # Several processes may open a new file at once. Switching it to WAL needs an
        # exclusive lock, and SQLite answers a lock-upgrade deadlock with "database is
        # locked" at once, without waiting: so set-up retries for a while.
        for attempt in range(100):
            try:
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=FULL")
                db.execute("BEGIN IMMEDIATE")
                try:
                    if db.execute(
                        "SELECT 1 FROM sqlite_master WHERE type='table' AND name='summaries'"
                    ).fetchone():
                        raise OutboxError(
                            f"Summary outbox {self._path!r} was written by an older pacspace "
                            "(table 'summaries'): flush it with that version, or move it aside.",
                            self._path,
                        )
                    for statement in SCHEMA.split(";"):
                        if statement.strip():
                            db.execute(statement)
                    found = db.execute(
                        "SELECT value FROM pacspace_meta WHERE name = 'scope'"
                    ).fetchone()
                    if found is None:
                        self.scope = f"sqlite:{new_token()}"
                        db.execute(
                            "INSERT INTO pacspace_meta (name, value) VALUES ('scope', ?)",
                            (self.scope,),
                        )
                    else:
                        self.scope = found[0]
                    db.execute("COMMIT")
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or attempt == 99:
                    raise
                time.sleep(0.01 + random.random() * 0.05)

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken at once (``BEGIN IMMEDIATE``), errors translated."""
        with self._lock:
            db = self._connect()
            try:
                db.execute("BEGIN IMMEDIATE")
                try:
                    yield db
                    db.execute("COMMIT")
                except BaseException:
                    # SQLite may have rolled back already (a full disk does): keep its error.
                    if db.in_transaction:
                        with suppress(sqlite3.Error):
                            db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise outbox_error(self._path, exc) from None

    def _read(self, call: Callable[[sqlite3.Connection], T]) -> T:
        with self._lock:
            try:
                return call(self._connect())
            except sqlite3.Error as exc:
                raise outbox_error(self._path, exc) from None

    # -- the queue ----------------------------------------------------------------------

    def put(self, draft: Draft, producer: str) -> Stored:
        metadata = _json.dumps(draft.metadata)
        key = (draft.customer_id, draft.reason, draft.window_start, draft.window_end)
        with self._write() as db:
            row = db.execute(
                "SELECT id, reference_id FROM pacspace_summaries WHERE owner = ? AND producer = ?"
                " AND state = 'open' AND customer_id = ? AND reason = ? AND window_start = ?"
                " AND window_end = ?",
                (self._owner, producer, *key),
            ).fetchone()
            if row is not None:
                id_ = row["id"]
                reference = draft.reference_id or row["reference_id"]
                db.execute(
                    "UPDATE pacspace_summaries SET delta = ?, metadata = ?, queued_at = ?,"
                    " reference_id = ?, last_error = NULL WHERE id = ?",
                    (str(draft.delta), metadata, draft.queued_at, reference, id_),
                )
            else:
                cursor = db.execute(
                    "INSERT INTO pacspace_summaries (owner, producer, state, customer_id, reason,"
                    " window_start, window_end, delta, metadata, queued_at)"
                    " VALUES (?, ?, 'open', ?, ?, ?, ?, ?, ?, ?)",
                    (self._owner, producer, *key, str(draft.delta), metadata, draft.queued_at),
                )
                id_ = int(cursor.lastrowid or 0)
                reference = draft.reference_id or reference_id(self.scope, *key, id_)
                db.execute(
                    "UPDATE pacspace_summaries SET reference_id = ? WHERE id = ?", (reference, id_)
                )
        return Stored(
            id_, *key, draft.delta, reference, draft.metadata, draft.queued_at, OPEN, 0, None
        )

    def journal(self, rows: Sequence[Usage], producer: str) -> None:
        if not rows:
            return
        with self._write() as db:
            for row in rows:
                key = (row.customer_id, row.reason, row.window_start, row.window_end)
                found = db.execute(
                    "SELECT id, amount FROM pacspace_usage WHERE owner = ? AND producer = ?"
                    " AND customer_id = ? AND reason = ? AND window_start = ? AND window_end = ?",
                    (self._owner, producer, *key),
                ).fetchone()
                if found is None:
                    db.execute(
                        "INSERT INTO pacspace_usage (owner, producer, customer_id, reason,"
                        " window_start, window_end, window_end_at, amount)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (self._owner, producer, *key, row.window_end_at, str(row.amount)),
                    )
                else:  # this producer's own row: nobody else writes it
                    total = _decimal(found["amount"]) + row.amount
                    db.execute(
                        "UPDATE pacspace_usage SET amount = ? WHERE id = ?",
                        (str(total), found["id"]),
                    )

    def seal(self, *, until: float, producer: str | None = None, queued: bool = False) -> int:
        with self._write() as db:
            rows = db.execute(
                "SELECT id, customer_id, reason, window_start, window_end, amount"
                " FROM pacspace_usage WHERE owner = ? AND (window_end_at <= ? OR producer = ?)"
                " ORDER BY id",
                (self._owner, until, producer),
            ).fetchall()
            totals: dict[tuple[str, str, str, str], Decimal] = {}
            for row in rows:
                key = (row["customer_id"], row["reason"], row["window_start"], row["window_end"])
                try:
                    totals[key] = totals.get(key, Decimal(0)) + _decimal(row["amount"])
                except ValueError as exc:
                    self._insert(db, key, str(row["amount"]), DEAD, f"unreadable usage row: {exc}")
            sealed = 0
            for key, total in totals.items():
                if total != 0:
                    self._insert(db, key, str(total), PENDING, None)
                    sealed += 1
            db.executemany("DELETE FROM pacspace_usage WHERE id = ?", [(r["id"],) for r in rows])
            if queued:
                sealed += db.execute(
                    "UPDATE pacspace_summaries SET state = 'pending', producer = NULL"
                    " WHERE owner = ? AND state = 'open'",
                    (self._owner,),
                ).rowcount
        return sealed

    def _insert(
        self,
        db: sqlite3.Connection,
        key: tuple[str, str, str, str],
        delta: str,
        state: str,
        error: str | None,
    ) -> None:
        cursor = db.execute(
            "INSERT INTO pacspace_summaries (owner, state, customer_id, reason, window_start,"
            " window_end, delta, last_error, queued_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?,"
            " strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
            (self._owner, state, *key, delta, error),
        )
        id_ = int(cursor.lastrowid or 0)
        db.execute(
            "UPDATE pacspace_summaries SET reference_id = ? WHERE id = ?",
            (reference_id(self.scope, *key, id_), id_),
        )

    def claim(self, limit: int, after: int = 0) -> HeldClaim:
        now, pid = time.time(), os.getpid()
        items: list[Stored] = []
        with self._write() as db:
            rows = db.execute(
                "SELECT * FROM pacspace_summaries WHERE owner = ? AND state = 'pending'"
                " AND id > ? ORDER BY id",
                (self._owner, after),
            )
            unreadable: list[tuple[str, int]] = []
            # Read only as far as one batch needs (rows leased elsewhere are skipped);
            # the rows are changed after the cursor is done with them.
            while len(items) < limit and (page := rows.fetchmany(limit)):
                for row in page:
                    if len(items) >= limit:
                        break
                    if (
                        row["lease_until"] > now
                        and row["lease_pid"] != pid
                        and _alive(row["lease_pid"])
                    ):
                        continue
                    try:
                        items.append(_row(row))
                    except ValueError as exc:
                        unreadable.append((f"unreadable row: {exc}", row["id"]))
            rows.close()
            db.executemany(
                "UPDATE pacspace_summaries SET state = 'dead', last_error = ? WHERE id = ?",
                unreadable,
            )
            db.executemany(
                "UPDATE pacspace_summaries SET lease_until = ?, lease_pid = ? WHERE id = ?",
                [(now + LEASE, pid, item.id) for item in items],
            )
        return HeldClaim(items, self._settle, self._release)

    def _settle(
        self,
        claimed: Sequence[Stored],
        acked: Sequence[int],
        refused: Sequence[tuple[int, str]],
        failed: Sequence[tuple[int, str]],
    ) -> list[int]:
        with self._write() as db:
            db.executemany("DELETE FROM pacspace_summaries WHERE id = ?", [(i,) for i in acked])
            db.executemany(
                "UPDATE pacspace_summaries SET attempts = attempts + 1, last_error = ?,"
                " state = CASE WHEN attempts + 1 >= ? THEN 'dead' ELSE state END WHERE id = ?",
                [(error, self._max_attempts, id_) for id_, error in refused],
            )
            db.executemany(
                "UPDATE pacspace_summaries SET last_error = ? WHERE id = ?",
                [(error, id_) for id_, error in failed],
            )
            self._unlease(db, claimed)
            dead = [
                id_
                for id_, _ in refused
                if db.execute(
                    "SELECT 1 FROM pacspace_summaries WHERE id = ? AND state = 'dead'", (id_,)
                ).fetchone()
            ]
        return dead

    def _unlease(self, db: sqlite3.Connection, claimed: Sequence[Stored]) -> None:
        db.executemany(
            "UPDATE pacspace_summaries SET lease_until = 0, lease_pid = 0 WHERE id = ?",
            [(item.id,) for item in claimed],
        )

    def _release(self, claimed: Sequence[Stored]) -> None:
        with self._write() as db:
            self._unlease(db, claimed)

    # -- reading ------------------------------------------------------------------------

    def count(self) -> int:
        return int(
            self._read(
                lambda db: db.execute(
                    "SELECT COUNT(*) FROM pacspace_summaries WHERE owner = ?"
                    " AND state IN ('open', 'pending')",
                    (self._owner,),
                ).fetchone()[0]
            )
        )

    def has_open(self, producer: str, draft: Draft) -> bool:
        return self._read(
            lambda db: (
                db.execute(
                    "SELECT 1 FROM pacspace_summaries WHERE owner = ? AND producer = ?"
                    " AND state = 'open' AND customer_id = ? AND reason = ? AND window_start = ?"
                    " AND window_end = ?",
                    (
                        self._owner,
                        producer,
                        draft.customer_id,
                        draft.reason,
                        draft.window_start,
                        draft.window_end,
                    ),
                ).fetchone()
                is not None
            )
        )

    def usage_rows(self) -> int:
        return int(
            self._read(
                lambda db: db.execute(
                    "SELECT COUNT(*) FROM pacspace_usage WHERE owner = ?", (self._owner,)
                ).fetchone()[0]
            )
        )

    def dead_letters(self, limit: int = 100) -> list[Stored]:
        rows = self._read(
            lambda db: db.execute(
                "SELECT * FROM pacspace_summaries WHERE owner = ? AND state = 'dead'"
                " ORDER BY id LIMIT ?",
                (self._owner, limit),
            ).fetchall()
        )
        return [_loose(row) for row in rows]

    def dead_count(self) -> int:
        return int(
            self._read(
                lambda db: db.execute(
                    "SELECT COUNT(*) FROM pacspace_summaries WHERE owner = ? AND state = 'dead'",
                    (self._owner,),
                ).fetchone()[0]
            )
        )

    def retry_dead(self, ids: Sequence[int] | None = None) -> int:
        with self._write() as db:
            if ids is None:
                return db.execute(
                    "UPDATE pacspace_summaries SET state = 'pending', attempts = 0"
                    " WHERE owner = ? AND state = 'dead'",
                    (self._owner,),
                ).rowcount
            return sum(
                db.execute(
                    "UPDATE pacspace_summaries SET state = 'pending', attempts = 0"
                    " WHERE owner = ? AND state = 'dead' AND id = ?",
                    (self._owner, id_),
                ).rowcount
                for id_ in ids
            )

    def close(self) -> None:
        with self._lock:
            db, self._db = self._db, None
            if db is not None and self._pid == os.getpid():
                db.close()


_INHERITED: list[Any] = []
"""Connections inherited across fork(), kept open and unused: see ``_connect``."""


def _decimal(text: Any) -> Decimal:
    try:
        value = Decimal(text)
    except (InvalidOperation, TypeError):
        raise ValueError(f"not a number: {text!r:.40}") from None
    if not value.is_finite():
        raise ValueError(f"not a finite number: {text!r:.40}")
    return value


def _alive(pid: int) -> bool:
    """Whether a process holding a lease still runs (an outbox file is on one host)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _loose(row: sqlite3.Row) -> Stored:
    """A dead letter as far as it can be read (listing must not fail on the rows it lists)."""
    try:
        return _row(row)
    except ValueError:
        return _stored(row, Decimal(0), {"unreadable": str(row["delta"])[:80]})
