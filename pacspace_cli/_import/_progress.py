"""The import's memory: what earlier runs recorded, kept beside the file in SQLite.

Each recorded line is kept with its name (see ``_identity``), the ``referenceId`` it was
sent under, its customer, amount, reason, and where it was last seen. A run reads the
file into a temporary table first and compares: lines already recorded are skipped
(never replayed against the service), lines recorded before and no longer in the file
are *stale* (deleted, or changed in place) and found before anything is sent.

SQLite rather than a JSON file, so a torn write cannot corrupt it (every save is one
transaction), and so a file of millions of lines is compared on disk, in flat memory.
Whatever cannot be read raises ``ProgressError`` saying how to start over.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

import simplejson

from . import _identity

__all__ = ["Planned", "Progress", "ProgressError", "Stale", "fail"]

VERSION = "2"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS recorded (
    reference TEXT PRIMARY KEY,     -- the referenceId it was sent under
    name TEXT NOT NULL,             -- what names the line across edits
    generation INTEGER NOT NULL,    -- 1, then one more each time the name is recorded again
    key BLOB NOT NULL,              -- its normalised content
    line INTEGER NOT NULL,          -- where it was last seen
    customer TEXT NOT NULL,
    amount TEXT NOT NULL,
    reason TEXT NOT NULL,
    reversal TEXT                   -- the referenceId of its reversal, once reversed
);
CREATE INDEX IF NOT EXISTS recorded_name ON recorded (name);
"""
_SCAN = """
CREATE TEMP TABLE lines (
    line INTEGER PRIMARY KEY,
    key BLOB,
    given TEXT,        -- the line's own referenceId
    name TEXT,
    customer TEXT,
    amount TEXT,
    reason TEXT,
    metadata TEXT,     -- as JSON, keys sorted
    field TEXT,        -- a bad line: the field at fault
    problem TEXT       -- a bad line: what is wrong
);
"""


class ProgressError(Exception):
    """The progress store cannot be used: the message says why and how to start over."""


@dataclass(frozen=True)
class Stale:
    """A line an earlier run recorded that the file no longer holds."""

    line: int
    customer: str
    amount: str
    reason: str
    reference: str


@dataclass(frozen=True)
class Planned:
    """A line to send: its place, content, name and the id it goes under."""

    line: int
    customer: str
    amount: str
    reason: str
    metadata: str | None
    name: str
    generation: int
    key: bytes
    reference: str

    def item(self) -> dict[str, Any]:
        """The line as an emit item."""
        item: dict[str, Any] = {
            "customerId": self.customer,
            "delta": Decimal(self.amount),
            "reason": self.reason,
            "referenceId": self.reference,
        }
        if self.metadata is not None:
            item["metadata"] = simplejson.loads(self.metadata, use_decimal=True)
        return item


def fail(path: Path | None, exc: BaseException) -> ProgressError:
    return ProgressError(
        f"the progress store {path} cannot be read ({exc}). Run again with --restart to "
        "forget it and start over: lines sent before are sent again under the same ids, "
        "and the service records them once"
    )


class Progress:
    """The store of one file's import. ``read_only`` (a dry run) never writes to it."""

    def __init__(
        self, path: Path | None, import_id: str, base_url: str | None, *, read_only: bool
    ) -> None:
        """``path`` None: a throwaway store (a dry run that forgets the progress)."""
        self.path = path
        self.import_id = import_id
        self._pending: list[tuple[Any, ...]] = []
        self._reversed: list[tuple[str, str]] = []
        try:
            if path is None or not (path.exists() or path.is_symlink()):
                if path is not None and not read_only:
                    self._db = sqlite3.connect(str(path), isolation_level=None)
                else:
                    self._db = sqlite3.connect("", isolation_level=None)
            elif not path.is_file():
                raise ProgressError(
                    f"the progress store {path} is not a file; move it away, or run "
                    "again with --restart to replace it"
                )
            else:
                uri = f"file:{quote(str(path))}" + ("?mode=ro" if read_only else "")
                self._db = sqlite3.connect(uri, uri=True, isolation_level=None)
            self._open(base_url, read_only and path is not None and path.exists())
        except sqlite3.Error as exc:
            raise fail(path, exc) from None

    def _open(self, base_url: str | None, existing_read_only: bool) -> None:
        db = self._db
        if not existing_read_only:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)
        db.execute(  # every column this version reads, or an error now rather than later
            "SELECT reference, name, generation, key, line, customer, amount, reason, reversal"
            " FROM recorded LIMIT 0"
        )
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        if not meta:
            meta = {"version": VERSION, "import_id": self.import_id, "base_url": base_url or ""}
            db.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
        if meta.get("version") != VERSION:
            raise fail(self.path, ValueError(f"unknown version {meta.get('version')!r}"))
        if meta.get("import_id") != self.import_id:
            raise ProgressError(
                f"the progress store {self.path} is of the import id "
                f"{meta.get('import_id')!r}: pass --import-id {meta.get('import_id')!r} to "
                "go on with it, or --restart to start a new import"
            )
        if base_url is not None and meta.get("base_url") != base_url:
            raise ProgressError(
                f"the progress store {self.path} is of an import into "
                f"{meta.get('base_url')}, not {base_url}: run again with --restart to import "
                "the file into this service"
            )
        db.executescript(_SCAN)

    def close(self) -> None:
        self._db.close()

    # -- the file, as read by this run -------------------------------------------------------

    def add_lines(self, rows: Iterable[tuple[Any, ...]]) -> None:
        """``(line, key, given referenceId, customer, amount, reason, metadata)`` of the
        good lines."""
        self._db.executemany(
            "INSERT INTO lines (line, key, given, customer, amount, reason, metadata)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            rows,
        )

    def add_bad(self, rows: Iterable[tuple[int, str, str]]) -> None:
        """``(line, field, problem)`` of lines that cannot be sent."""
        self._db.executemany("INSERT INTO lines (line, field, problem) VALUES (?, ?, ?)", rows)

    def name_lines(self) -> None:
        """Give every good line its name: its own referenceId, or its content and its
        occurrence among identical lines (counted on disk: a file of millions of lines
        names them in flat memory)."""
        db = self._db
        import_id = self.import_id

        def name(key: bytes, occurrence: int) -> str:
            return _identity.identity(import_id, key, occurrence)

        db.create_function("pacspace_name", 2, name, deterministic=True)
        db.execute("UPDATE lines SET name = 'ref:' || given WHERE given IS NOT NULL")
        db.execute(
            "UPDATE lines SET name = pacspace_name(o.key, o.n) FROM (SELECT line, key,"
            " row_number() OVER (PARTITION BY key ORDER BY line) AS n FROM lines"
            " WHERE given IS NULL AND key IS NOT NULL) AS o WHERE lines.line = o.line"
        )
        db.execute("CREATE INDEX temp.lines_name ON lines (name)")

    def bad_lines(self, limit: int) -> list[tuple[int, str, str]]:
        return self._db.execute(
            "SELECT line, field, problem FROM lines WHERE problem IS NOT NULL ORDER BY line"
            " LIMIT ?",
            (limit,),
        ).fetchall()

    def repeated_references(self, limit: int) -> list[tuple[str, str]]:
        """Own referenceIds that more than one line carries, with their lines."""
        return self._db.execute(
            "SELECT given, group_concat(line, ', ') FROM (SELECT given, line FROM lines"
            " WHERE given IS NOT NULL ORDER BY line) GROUP BY given HAVING count(*) > 1"
            " ORDER BY min(line) LIMIT ?",
            (limit,),
        ).fetchall()

    def changed_references(self, limit: int) -> list[tuple[int, str, str]]:
        """Lines whose own referenceId was recorded with other content, or reversed:
        the service keeps what it recorded under an id, so such a line needs a new one."""
        return self._db.execute(
            "SELECT l.line, l.given, CASE WHEN EXISTS (SELECT 1 FROM recorded r"
            "  WHERE r.name = l.name AND r.reversal IS NULL) THEN 'changed' ELSE 'reversed' END"
            " FROM lines l WHERE l.given IS NOT NULL AND EXISTS (SELECT 1 FROM recorded r"
            "  WHERE r.name = l.name) AND NOT EXISTS (SELECT 1 FROM recorded r"
            "  WHERE r.name = l.name AND r.reversal IS NULL AND r.key = l.key)"
            " ORDER BY l.line LIMIT ?",
            (limit,),
        ).fetchall()

    def stale(self, limit: int = -1) -> Iterator[Stale]:
        """Lines recorded and not reversed whose name the file no longer holds (after
        ``plan``)."""
        for row in self._db.execute(
            "SELECT line, customer, amount, reason, reference FROM stale ORDER BY line LIMIT ?",
            (limit,),
        ):
            yield Stale(*row)

    def count_done(self) -> int:
        """Lines of the file an earlier run recorded: skipped."""
        return int(
            self._db.execute(
                "SELECT count(*) FROM lines l WHERE EXISTS (SELECT 1 FROM recorded r"
                " WHERE r.name = l.name AND r.reversal IS NULL AND r.key = l.key)"
            ).fetchone()[0]
        )

    def plan(self) -> tuple[int, int]:
        """Set aside the lines to send, each with the generation of its name, and the
        lines recorded before that the file no longer holds: how many of each."""
        db = self._db
        db.execute(
            "CREATE TEMP TABLE stale AS SELECT line, customer, amount, reason, reference"
            " FROM recorded r WHERE reversal IS NULL"
            " AND NOT EXISTS (SELECT 1 FROM lines l WHERE l.name = r.name)"
        )
        db.execute(
            "CREATE TEMP TABLE plan AS SELECT l.line, l.customer, l.amount, l.reason,"
            " l.metadata, l.name, l.key, l.given,"
            " coalesce((SELECT max(generation) FROM recorded r WHERE r.name = l.name), 0) + 1"
            " AS generation FROM lines l WHERE l.problem IS NULL AND ("
            "  (l.given IS NULL AND NOT EXISTS (SELECT 1 FROM recorded r"
            "   WHERE r.name = l.name AND r.reversal IS NULL))"
            "  OR (l.given IS NOT NULL AND NOT EXISTS (SELECT 1 FROM recorded r"
            "   WHERE r.name = l.name)))"
        )
        count = db.execute("SELECT (SELECT count(*) FROM plan), (SELECT count(*) FROM stale)")
        to_send, stale = count.fetchone()
        return int(to_send), int(stale)

    def planned(self, limit: int = -1) -> Iterator[Planned]:
        for (
            line,
            customer,
            amount,
            reason,
            metadata,
            name,
            key,
            given,
            generation,
        ) in self._db.execute(
            "SELECT line, customer, amount, reason, metadata, name, key, given, generation"
            " FROM plan ORDER BY line LIMIT ?",
            (limit,),
        ):
            reference = given if given is not None else _identity.reference(name, generation)
            yield Planned(
                line, customer, amount, reason, metadata, name, generation, key, reference
            )

    def renumber(self) -> None:
        """Lines recorded before now sit where this run found them."""
        self._db.execute(
            "UPDATE recorded SET line = l.line FROM lines l WHERE recorded.name = l.name"
            " AND recorded.reversal IS NULL AND recorded.line != l.line"
        )

    # -- what this run recorded --------------------------------------------------------------

    def recorded(self, planned: Planned) -> None:
        p = planned
        self._pending.append(
            (p.reference, p.name, p.generation, p.key, p.line, p.customer, p.amount, p.reason)
        )

    def reversed(self, stale: Stale, reversal: str) -> None:
        self._reversed.append((reversal, stale.reference))

    def save(self) -> None:
        """Keep what was recorded since the last save, in one transaction."""
        if not (self._pending or self._reversed):
            return
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany(
                "INSERT INTO recorded (reference, name, generation, key, line, customer,"
                " amount, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (reference) DO NOTHING",
                self._pending,
            )
            db.executemany("UPDATE recorded SET reversal = ? WHERE reference = ?", self._reversed)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        self._pending.clear()
        self._reversed.clear()
