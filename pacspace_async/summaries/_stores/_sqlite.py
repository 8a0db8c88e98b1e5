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
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from decimal import Decimal
from typing import Any, TypeVar

from ... import _json
from ..._errors import OutboxError
from .._identity import after_fork, hold_across_fork, reference_id
from ._base import (
    DEAD,
    OPEN,
    PENDING,
    HeldClaim,
    Record,
    Refused,
    Stats,
    needs_postgres,
)
from ._sqlite_rows import (
    REFUSED,
    escaped,
    loose_record,
    outbox_error,
    process_alive,
    read_decimal,
    record_of,
    set_up,
    stats_of,
)

__all__ = ["SQLiteStore", "outbox_error"]

T = TypeVar("T")
LEASE = 120.0
"""Seconds a process may hold pending summaries while sending them."""

_INHERITED: list[Any] = []
"""Connections inherited across fork(), kept open and unused: see ``_connect``."""


class SQLiteStore:
    blocking = True
    durable = True

    def __init__(self, path: str, owner: str, *, max_attempts: int = 3) -> None:
        self.location: str | None = path
        self._path = path
        self._owner = owner
        self._max_attempts = max_attempts
        self._lock = threading.Lock()
        after_fork(self)
        hold_across_fork(self)
        self._db: sqlite3.Connection | None = None
        self._pid = 0
        self.scope = ""
        self._connect()

    @property
    def fork_lock(self) -> threading.Lock:
        """Held by every transaction: a fork waits for the one under way."""
        return self._lock

    def _after_fork_in_child(self) -> None:
        # A fork while another thread held the lock (a journal in a worker thread) must
        # not leave it held here; the connection is replaced on first use (see _connect).
        self._lock = threading.Lock()

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
            self.scope = set_up(db, self._path)
        except sqlite3.Error as exc:
            raise outbox_error(self._path, exc) from None
        self._db, self._pid = db, os.getpid()
        return db

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
            except (sqlite3.Error, ValueError) as exc:  # ValueError: text it cannot encode
                raise outbox_error(self._path, exc) from None

    def _read(self, call: Callable[[sqlite3.Connection], T]) -> T:
        with self._lock:
            try:
                return call(self._connect())
            except sqlite3.Error as exc:
                raise outbox_error(self._path, exc) from None

    # -- the queue ----------------------------------------------------------------------

    def put(self, summary: Record, producer: str) -> Record:
        draft = summary
        metadata = _json.dumps(draft.metadata)
        key = draft.aggregate
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
        return Record(
            *key,
            draft.window_end_at,
            draft.delta,
            reference,
            draft.metadata,
            draft.queued_at,
            id_,
            OPEN,
            producer=producer,
        )

    def journal(self, rows: Sequence[Record], producer: str) -> list[Refused]:
        if not rows:
            return []
        try:
            with self._write() as db:
                for row in rows:
                    self._add_usage(db, row, producer)
            return []
        except OutboxError as exc:
            if not isinstance(exc.__context__, REFUSED):
                raise
        # A row the file refuses must not cost the others: each on its own, and what is
        # still refused becomes a dead letter with SQLite's reason.
        refused: list[Refused] = []
        for row in rows:
            try:
                with self._write() as db:
                    self._add_usage(db, row, producer)
            except OutboxError as exc:
                if not isinstance(exc.__context__, REFUSED):
                    raise
                reason = f"not journaled: {exc.__context__}"
                try:
                    with self._write() as db:
                        self._insert(db, escaped(row), str(row.delta), DEAD, reason, None)
                except OutboxError:
                    refused.append(Refused(row, reason, buried=False))
                else:
                    refused.append(Refused(row, reason, buried=True))
        return refused

    def _add_usage(self, db: sqlite3.Connection, row: Record, producer: str) -> None:
        key = row.aggregate
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
                (self._owner, producer, *key, row.window_end_at, str(row.delta)),
            )
        else:  # this producer's own row: nobody else writes it
            total = read_decimal(found["amount"]) + row.delta
            db.execute(
                "UPDATE pacspace_usage SET amount = ? WHERE id = ?", (str(total), found["id"])
            )

    def seal(self, *, until: float, producer: str | None = None, queued: bool = False) -> int:
        with self._write() as db:
            rows = db.execute(
                "SELECT id, producer, customer_id, reason, window_start, window_end, amount"
                " FROM pacspace_usage WHERE owner = ? AND (window_end_at <= ? OR producer = ?)"
                " ORDER BY id",
                (self._owner, until, producer),
            ).fetchall()
            totals: dict[tuple[str, str, str, str], tuple[Decimal, str | None]] = {}
            for row in rows:
                key = (row["customer_id"], row["reason"], row["window_start"], row["window_end"])
                try:
                    amount = read_decimal(row["amount"])
                except ValueError as exc:
                    bad = Record(*key, 0.0, Decimal(0))
                    error = f"unreadable usage row: {exc}"
                    self._insert(db, bad, str(row["amount"]), DEAD, error, None)
                    continue
                total, by = totals.get(key, (Decimal(0), row["producer"]))
                # A summary is a producer's own only when that producer sealed it alone.
                totals[key] = (total + amount, by if by == row["producer"] else None)
            sealed = 0
            for key, (total, by) in totals.items():
                if total != 0:
                    self._insert(db, Record(*key, 0.0, total), str(total), PENDING, None, by)
                    sealed += 1
            db.executemany("DELETE FROM pacspace_usage WHERE id = ?", [(r["id"],) for r in rows])
            if queued:
                sealed += db.execute(
                    "UPDATE pacspace_summaries SET state = 'pending'"
                    " WHERE owner = ? AND state = 'open'",
                    (self._owner,),
                ).rowcount
        return sealed

    def _insert(
        self,
        db: sqlite3.Connection,
        row: Record,
        delta: str,
        state: str,
        error: str | None,
        producer: str | None,
    ) -> None:
        """A sealed summary, or a dead letter (one the file refused gets no ``referenceId``:
        it can never be sent)."""
        cursor = db.execute(
            "INSERT INTO pacspace_summaries (owner, producer, state, customer_id, reason,"
            " window_start, window_end, delta, last_error, queued_at) VALUES (?, ?, ?, ?, ?,"
            " ?, ?, ?, ?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
            (self._owner, producer, state, *row.aggregate, delta, error),
        )
        if error is None or not error.startswith("not journaled"):
            id_ = int(cursor.lastrowid or 0)
            db.execute(
                "UPDATE pacspace_summaries SET reference_id = ? WHERE id = ?",
                (reference_id(self.scope, *row.aggregate, id_), id_),
            )

    def claim(self, limit: int, after: int = 0) -> HeldClaim:
        now, pid = time.time(), os.getpid()
        items: list[Record] = []
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
                        and process_alive(row["lease_pid"])
                    ):
                        continue
                    try:
                        items.append(record_of(row))
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
        claimed: Sequence[Record],
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

    def _unlease(self, db: sqlite3.Connection, claimed: Sequence[Record]) -> None:
        db.executemany(
            "UPDATE pacspace_summaries SET lease_until = 0, lease_pid = 0 WHERE id = ?",
            [(item.id,) for item in claimed],
        )

    def _release(self, claimed: Sequence[Record]) -> None:
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

    def has_open(self, producer: str, summary: Record) -> bool:
        draft = summary
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

    def stats(self, producer: str | None = None) -> Stats:
        def read(db: sqlite3.Connection) -> Stats:
            summaries = db.execute(
                "SELECT state, COUNT(*) AS n, MIN(queued_at) AS oldest,"
                " SUM(lease_until > ? AND lease_pid != 0) AS sending,"
                " SUM(producer IS ?) AS own FROM pacspace_summaries WHERE owner = ?"
                " GROUP BY state",
                (time.time(), producer, self._owner),
            ).fetchall()
            usage = db.execute(
                "SELECT COUNT(*) AS n, MIN(window_end_at) AS oldest, SUM(producer IS ?) AS own"
                " FROM pacspace_usage WHERE owner = ?",
                (producer, self._owner),
            ).fetchone()
            own_amounts = db.execute(
                "SELECT delta FROM pacspace_summaries WHERE owner = ? AND producer IS ?"
                " AND state != 'dead' UNION ALL SELECT amount FROM pacspace_usage"
                " WHERE owner = ? AND producer IS ?",
                (self._owner, producer, self._owner, producer),
            ).fetchall()
            return stats_of(summaries, usage, own_amounts, producer)

        return self._read(read)

    def dead_letters(self, limit: int = 100) -> list[Record]:
        rows = self._read(
            lambda db: db.execute(
                "SELECT * FROM pacspace_summaries WHERE owner = ? AND state = 'dead'"
                " ORDER BY id LIMIT ?",
                (self._owner, limit),
            ).fetchall()
        )
        return [loose_record(row) for row in rows]

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
                    " WHERE owner = ? AND state = 'dead' AND reference_id IS NOT NULL",
                    (self._owner,),
                ).rowcount
            return sum(
                db.execute(
                    "UPDATE pacspace_summaries SET state = 'pending', attempts = 0"
                    " WHERE owner = ? AND state = 'dead' AND id = ?"
                    " AND reference_id IS NOT NULL",
                    (self._owner, id_),
                ).rowcount
                for id_ in ids
            )

    def ensure_ready(self) -> None:
        """Nothing to create beyond what opening made."""

    def record_statement(self, row: Record) -> tuple[str, tuple[Any, ...]]:
        raise needs_postgres()

    def close(self) -> None:
        with self._lock:
            db, self._db = self._db, None
            if db is not None and self._pid == os.getpid():
                db.close()
