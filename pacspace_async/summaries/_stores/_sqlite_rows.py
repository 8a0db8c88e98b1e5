"""The SQLite outbox's schema, its errors (each naming the file and what to do), and its
rows as records: what ``_sqlite`` stores and reads, apart from how it does so."""

from __future__ import annotations

import os
import random
import sqlite3
import time
from contextlib import suppress
from decimal import Decimal, InvalidOperation
from typing import Any

from ... import _json
from ..._errors import OutboxError
from ..._time import parse_iso
from .._identity import new_token
from ._base import (
    DEAD,
    OPEN,
    PENDING,
    Record,
    Stats,
    storable,
)

__all__ = ["SCHEMA", "outbox_error", "set_up"]

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


def outbox_error(path: str, exc: sqlite3.Error | ValueError) -> OutboxError:
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


def record_of(row: sqlite3.Row) -> Record:
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
    return stored_record(row, delta, metadata)


def stored_record(row: sqlite3.Row, delta: Decimal, metadata: dict[str, Any]) -> Record:
    return Record.stored(row, delta, metadata)


REFUSED = (sqlite3.IntegrityError, sqlite3.DataError, sqlite3.InterfaceError, ValueError)
"""Failures that are about one row's values, not about the file: they never stop the rest."""


def escaped(row: Record) -> Record:
    """A refused row as a dead letter can hold it."""
    return Record(
        storable(row.customer_id),
        storable(row.reason),
        storable(row.window_start),
        storable(row.window_end),
        row.window_end_at,
        row.delta,
    )


def read_decimal(text: Any) -> Decimal:
    try:
        value = Decimal(text)
    except (InvalidOperation, TypeError):
        raise ValueError(f"not a number: {text!r:.40}") from None
    if not value.is_finite():
        raise ValueError(f"not a finite number: {text!r:.40}")
    return value


def stats_of(
    summaries: list[sqlite3.Row],
    usage: sqlite3.Row,
    own_amounts: list[sqlite3.Row],
    producer: str | None,
) -> Stats:
    now = time.time()
    by_state = {row["state"]: row for row in summaries}

    def count(state: str) -> int:
        row = by_state.get(state)
        return int(row["n"]) if row is not None else 0

    def age(state: str) -> float | None:
        row = by_state.get(state)
        return seconds_since(now, row["oldest"]) if row is not None else None

    own_total = Decimal(0)
    for (amount,) in own_amounts:
        with suppress(ValueError):
            own_total += read_decimal(amount)
    ages = [a for a in (age(OPEN), age(PENDING)) if a is not None]
    return Stats(
        usage=int(usage["n"]),
        open=count(OPEN),
        pending=count(PENDING),
        sending=int(by_state[PENDING]["sending"] or 0) if PENDING in by_state else 0,
        dead=count(DEAD),
        own_usage=int(usage["own"] or 0) if producer is not None else 0,
        own_summaries=sum(int(r["own"] or 0) for s, r in by_state.items() if s != DEAD)
        if producer is not None
        else 0,
        own_total=own_total if producer is not None else Decimal(0),
        oldest_usage=max(0.0, now - usage["oldest"]) if usage["oldest"] is not None else None,
        oldest_summary=max(ages) if ages else None,
        oldest_dead=age(DEAD),
    )


def seconds_since(now: float, stamp: Any) -> float | None:
    """Seconds since an ISO-8601 ``queued_at`` (``None`` when it cannot be read)."""
    try:
        return max(0.0, now - parse_iso(str(stamp)).timestamp())
    except ValueError:
        return None


def process_alive(pid: int) -> bool:
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


def loose_record(row: sqlite3.Row) -> Record:
    """A dead letter as far as it can be read (listing must not fail on the rows it lists)."""
    try:
        return record_of(row)
    except ValueError:
        return stored_record(row, Decimal(0), {"unreadable": str(row["delta"])[:80]})


def set_up(db: sqlite3.Connection, path: str) -> str:
    """Make ``db`` WAL and full-synchronous, create what is missing of the schema, and
    return the file's scope (minted by the first process to open it)."""
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
                        f"Summary outbox {path!r} was written by an older pacspace "
                        "(table 'summaries'): flush it with that version, or move it aside.",
                        path,
                    )
                for statement in SCHEMA.split(";"):
                    if statement.strip():
                        db.execute(statement)
                found = db.execute(
                    "SELECT value FROM pacspace_meta WHERE name = 'scope'"
                ).fetchone()
                if found is None:
                    scope = f"sqlite:{new_token()}"
                    db.execute(
                        "INSERT INTO pacspace_meta (name, value) VALUES ('scope', ?)",
                        (scope,),
                    )
                else:
                    scope = str(found[0])
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            return scope
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == 99:
                raise
            time.sleep(0.01 + random.random() * 0.05)

    raise AssertionError("unreachable")  # the last attempt raises
