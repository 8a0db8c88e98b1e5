"""The PostgreSQL outbox: one store for a whole fleet (``pip install "pacspace[postgres]"``).

Every pod, worker and drainer on one database shares it, and its scope (a token in
``pacspace_meta``): slices are numbered by the database, so no two producers collide.

* ``meter.record(connection, ...)`` inserts one usage row in the caller's transaction
  (insert-only; a hot customer never becomes a hot row). Meter journals add to their
  producer's own row, which nobody else writes.
* Sealing claims the usage rows of ended windows with ``FOR UPDATE SKIP LOCKED`` (rows a
  producer is writing at that moment are left for the next seal), sums them per customer,
  reason and window in the database (``numeric``: exact), and inserts one pending
  summary per aggregate, all in one transaction under an advisory lock, so that
  concurrent drainers never split one aggregate into two summaries.
* Sending holds its summaries locked (``FOR UPDATE SKIP LOCKED``) for the duration of the
  request and removes them only after the service answered, in the same transaction: a
  drainer killed mid-batch leaves them locked by nobody, and the next one resends them
  under the same ``referenceId``, which the service records once.

Every failure is an :class:`~pacspace_async.OutboxError` naming the database, never its
password. The schema, and how it is created, are in :mod:`._postgres_schema`.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any, TypeVar

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool, PoolTimeout

from ..._errors import OutboxError
from .._identity import reference_id
from .._per_process import process_lock
from .._summary import iso
from ._base import OPEN, HeldClaim, Record, Refused, Stats, storable
from ._postgres_schema import (
    COLUMNS,
    LOCK_SEAL,
    RECORD_USAGE,
    REFUSED,
    create_schema,
    give_back,
    read_stats,
    redact_url,
    store_error,
    stored_record,
    warn_if_psycopg_blocks_gevent,
)

__all__ = ["PostgresStore"]

T = TypeVar("T")
CONNECT_TIMEOUT = 10.0


_INHERITED: list[Any] = []
"""Pools inherited across fork(), disarmed and unused: see ``_forget_inherited``."""


class PostgresStore:
    blocking = True
    durable = True

    def __init__(self, url: str, owner: str, *, max_attempts: int = 3) -> None:
        self._url = url
        self.location: str | None = redact_url(url)
        self._owner = owner
        self._max_attempts = max_attempts
        # Held across the pool's opening (a greenlet may wait); made again in a child.
        self._lock = process_lock()
        self._pool: ConnectionPool[Any] | None = None
        self._pid = 0
        self._connections: weakref.WeakSet[psycopg.Connection[Any]] = weakref.WeakSet()
        self.scope = ""

    # -- connections --------------------------------------------------------------------

    def _error(self, exc: BaseException) -> OutboxError:
        return store_error(self.location, exc, timeout=CONNECT_TIMEOUT)

    def _pool_here(self) -> ConnectionPool[Any]:
        with self._lock.get():
            if self._pool is not None and self._pid == os.getpid():
                return self._pool
            if self._pool is not None:
                self._forget_inherited()
            pool: ConnectionPool[Any] = ConnectionPool(
                self._url,
                min_size=1,
                max_size=4,
                open=False,
                timeout=CONNECT_TIMEOUT,
                configure=self._connections.add,
                name="pacspace-outbox",
            )
            try:
                pool.open(wait=True, timeout=CONNECT_TIMEOUT)
            except (psycopg.Error, PoolTimeout) as exc:
                pool.close()
                raise self._error(exc) from None
            self._pool, self._pid = pool, os.getpid()
        warn_if_psycopg_blocks_gevent()
        self.ensure_ready()
        return pool

    def _forget_inherited(self) -> None:
        """In a forked child: the pool's sockets are the parent's. Point them at /dev/null
        here, so that nothing this process does (a close, a finaliser) reaches the
        parent's sessions; then leave the pool unused."""
        devnull = os.open(os.devnull, os.O_RDWR)
        try:
            for connection in list(self._connections):
                if not connection.closed:
                    os.dup2(devnull, connection.pgconn.socket)
        finally:
            os.close(devnull)
        _INHERITED.append(self._pool)
        self._pool = None
        self._connections = weakref.WeakSet()

    @contextmanager
    def _tx(self) -> Iterator[psycopg.Connection[Any]]:
        pool = self._pool_here()
        try:
            with pool.connection() as connection, connection.transaction():
                yield connection
        except OutboxError:
            raise
        except (psycopg.Error, PoolTimeout, ValueError) as exc:  # ValueError: bad text
            raise self._error(exc) from None

    def ensure_ready(self) -> None:
        """Create what is missing of the schema (once, under an advisory lock) and read
        the scope.

        ``CREATE INDEX IF NOT EXISTS`` takes a share lock on its table even when the index
        exists: run beside processes already writing there, it deadlocks with them. So
        the catalog is asked first (no table lock), and only a missing object is created;
        creation itself gives up waiting after :data:`LOCK_TIMEOUT` and tries again.
        """
        if self.scope:
            return
        if self._pool is None or self._pid != os.getpid():  # never a pool from before a fork
            self._pool_here()  # its workers are the parent's: every wait would time out
            if self.scope:
                return
        pool = self._pool
        assert pool is not None
        try:
            self.scope = create_schema(pool)
        except (psycopg.Error, PoolTimeout) as exc:
            raise self._error(exc) from None

    # -- the queue ----------------------------------------------------------------------

    def put(self, summary: Record, producer: str) -> Record:
        draft = summary
        key = draft.aggregate
        with self._tx() as db:
            row = db.execute(
                "INSERT INTO pacspace_summaries (owner, producer, state, customer_id, reason,"
                " window_start, window_end, delta, reference_id, metadata, queued_at)"
                " VALUES (%s, %s, 'open', %s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (owner, producer, customer_id, reason, window_start, window_end)"
                " WHERE state = 'open' DO UPDATE SET delta = EXCLUDED.delta,"
                " metadata = EXCLUDED.metadata, queued_at = EXCLUDED.queued_at, last_error = NULL,"
                " reference_id = COALESCE(EXCLUDED.reference_id, pacspace_summaries.reference_id)"
                " RETURNING id, reference_id",
                (
                    self._owner,
                    producer,
                    *key,
                    draft.delta,
                    draft.reference_id,
                    Jsonb(draft.metadata),
                    draft.queued_at,
                ),
            ).fetchone()
            assert row is not None
            id_, reference = int(row[0]), row[1]
            if reference is None:
                reference = reference_id(self.scope, *key, id_)
                db.execute(
                    "UPDATE pacspace_summaries SET reference_id = %s WHERE id = %s",
                    (reference, id_),
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
            self._add_usage(rows, producer)
            return []
        except OutboxError as exc:
            if not isinstance(exc.__context__, REFUSED):
                raise
        # A row the database refuses must not cost the others: each on its own, and what
        # is still refused becomes a dead letter with the database's reason.
        refused: list[Refused] = []
        for row in rows:
            try:
                self._add_usage([row], producer)
            except OutboxError as exc:
                if not isinstance(exc.__context__, REFUSED):
                    raise
                reason = f"not journaled: {exc.__context__}"
                try:
                    self._bury(row, reason)
                except OutboxError:
                    refused.append(Refused(row, reason, buried=False))
                else:
                    refused.append(Refused(row, reason, buried=True))
        return refused

    def _add_usage(self, rows: Sequence[Record], producer: str) -> None:
        with self._tx() as db, db.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO pacspace_usage (owner, producer, customer_id, reason, window_start,"
                " window_end, window_end_at, amount) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (owner, producer, customer_id, reason, window_start, window_end)"
                " WHERE producer IS NOT NULL"
                " DO UPDATE SET amount = pacspace_usage.amount + EXCLUDED.amount",
                [(self._owner, producer, *r.aggregate, r.window_end_at, r.delta) for r in rows],
            )

    def _bury(self, row: Record, reason: str) -> None:
        """A dead letter for a row the database refused: escaped so that it can be stored,
        and with no ``referenceId``, so that it is never sent under a changed id."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO pacspace_summaries (owner, state, customer_id, reason,"
                " window_start, window_end, delta, queued_at, last_error)"
                " VALUES (%s, 'dead', %s, %s, %s, %s, %s, %s, %s)",
                (
                    self._owner,
                    *(storable(part) for part in row.aggregate),
                    row.delta,
                    iso(datetime.now(timezone.utc)),
                    storable(reason),
                ),
            )

    def record_statement(self, row: Record) -> tuple[str, tuple[Any, ...]]:
        """The one INSERT that ``meter.record`` runs in the caller's transaction."""
        return (
            RECORD_USAGE,
            (
                self._owner,
                row.customer_id,
                row.reason,
                row.window_start,
                row.window_end,
                row.window_end_at,
                row.delta,
            ),
        )

    def seal(self, *, until: float, producer: str | None = None, queued: bool = False) -> int:
        now = iso(datetime.now(timezone.utc))
        with self._tx() as db:
            if producer is not None:  # a close: its open windows must be sealed now, so wait
                db.execute(
                    "SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (LOCK_SEAL, self._owner)
                )
            else:
                got = db.execute(
                    "SELECT pg_try_advisory_xact_lock(%s, hashtext(%s))",
                    (LOCK_SEAL, self._owner),
                ).fetchone()
                if not got or not got[0]:
                    return 0  # another process is sealing this owner's usage right now
            rows = db.execute(
                "WITH claimed AS ("
                "  DELETE FROM pacspace_usage WHERE id IN ("
                "    SELECT id FROM pacspace_usage WHERE owner = %(owner)s"
                "    AND (window_end_at <= %(until)s OR producer = %(producer)s)"
                "    FOR UPDATE SKIP LOCKED)"
                "  RETURNING producer, customer_id, reason, window_start, window_end, amount),"
                " sums AS (SELECT customer_id, reason, window_start, window_end,"
                "  SUM(amount) AS delta,"
                # A summary is a producer's own only when that producer sealed it alone.
                "  CASE WHEN COUNT(producer) = COUNT(*) AND MIN(producer) = MAX(producer)"
                "   THEN MIN(producer) END AS producer"
                "  FROM claimed GROUP BY 1, 2, 3, 4)"
                " INSERT INTO pacspace_summaries (owner, producer, state, customer_id, reason,"
                "  window_start, window_end, delta, queued_at)"
                " SELECT %(owner)s, producer, 'pending', customer_id, reason, window_start,"
                "  window_end, delta, %(now)s FROM sums WHERE delta <> 0"
                " RETURNING id, customer_id, reason, window_start, window_end",
                {"owner": self._owner, "until": until, "producer": producer, "now": now},
            ).fetchall()
            if rows:
                db.execute(
                    "UPDATE pacspace_summaries AS s SET reference_id = v.ref"
                    " FROM unnest(%s::bigint[], %s::text[]) AS v(id, ref) WHERE s.id = v.id",
                    (
                        [row[0] for row in rows],
                        [
                            reference_id(self.scope, row[1], row[2], row[3], row[4], int(row[0]))
                            for row in rows
                        ],
                    ),
                )
            sealed = len(rows)
            if queued:
                sealed += db.execute(
                    "UPDATE pacspace_summaries SET state = 'pending'"
                    " WHERE owner = %s AND state = 'open'",
                    (self._owner,),
                ).rowcount
        return sealed

    def claim(self, limit: int, after: int = 0) -> HeldClaim:
        pool = self._pool_here()
        try:
            connection = pool.getconn()
        except (psycopg.Error, PoolTimeout) as exc:
            raise self._error(exc) from None
        try:
            rows = (
                connection.cursor(row_factory=dict_row)
                .execute(
                    f"SELECT {COLUMNS} FROM pacspace_summaries WHERE owner = %s"
                    " AND state = 'pending' AND id > %s ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED",
                    (self._owner, after, limit),
                )
                .fetchall()
            )
        except psycopg.Error as exc:
            give_back(pool, connection)
            raise self._error(exc) from None
        items = [stored_record(row) for row in rows if row["reference_id"]]
        unsendable = [int(row["id"]) for row in rows if not row["reference_id"]]
        if unsendable:  # a dead letter the store refused, moved back by hand: never sent
            try:
                connection.execute(
                    "UPDATE pacspace_summaries SET state = 'dead', last_error = COALESCE("
                    "last_error, 'no referenceId: it cannot be sent') WHERE id = ANY(%s)",
                    (unsendable,),
                )
                if not items:
                    connection.commit()
            except psycopg.Error as exc:
                give_back(pool, connection)
                raise self._error(exc) from None
        if not items:
            give_back(pool, connection)

        def finish(call: Callable[[psycopg.Connection[Any]], T]) -> T:
            # The items stay locked by this transaction until it settles or rolls back.
            try:
                return call(connection)
            except psycopg.Error as exc:
                raise self._error(exc) from None
            finally:
                give_back(pool, connection)

        return HeldClaim(
            items,
            lambda _, acked, refused, failed: finish(
                lambda c: self._settle(c, acked, refused, failed)
            ),
            lambda _: finish(lambda c: c.rollback()),
        )

    def _settle(
        self,
        connection: psycopg.Connection[Any],
        acked: Sequence[int],
        refused: Sequence[tuple[int, str]],
        failed: Sequence[tuple[int, str]],
    ) -> list[int]:
        dead: list[int] = []
        connection.execute("DELETE FROM pacspace_summaries WHERE id = ANY(%s)", (list(acked),))
        for id_, error in refused:
            row = (
                connection.cursor(row_factory=dict_row)
                .execute(
                    "UPDATE pacspace_summaries SET attempts = attempts + 1, last_error = %s,"
                    " state = CASE WHEN attempts + 1 >= %s THEN 'dead' ELSE state END"
                    " WHERE id = %s RETURNING state",
                    (error, self._max_attempts, id_),
                )
                .fetchone()
            )
            if row is not None and row["state"] == "dead":
                dead.append(id_)
        for id_, error in failed:
            connection.execute(
                "UPDATE pacspace_summaries SET last_error = %s WHERE id = %s", (error, id_)
            )
        connection.commit()
        return dead

    # -- reading ------------------------------------------------------------------------

    def _one(self, sql: str, params: tuple[Any, ...]) -> Any:
        with self._tx() as db:
            row = db.execute(sql, params).fetchone()
            return None if row is None else row[0]

    def count(self) -> int:
        return int(
            self._one(
                "SELECT COUNT(*) FROM pacspace_summaries WHERE owner = %s"
                " AND state IN ('open', 'pending')",
                (self._owner,),
            )
        )

    def has_open(self, producer: str, summary: Record) -> bool:
        draft = summary
        return (
            self._one(
                "SELECT 1 FROM pacspace_summaries WHERE owner = %s AND producer = %s"
                " AND state = 'open' AND customer_id = %s AND reason = %s AND window_start = %s"
                " AND window_end = %s",
                (
                    self._owner,
                    producer,
                    draft.customer_id,
                    draft.reason,
                    draft.window_start,
                    draft.window_end,
                ),
            )
            is not None
        )

    def stats(self, producer: str | None = None) -> Stats:
        """Counts and ages by state, without changing anything (see :func:`read_stats`)."""
        pool = self._pool_here()
        try:
            with pool.connection() as db:
                return read_stats(db, self._owner, producer)
        except (psycopg.Error, PoolTimeout) as exc:
            raise self._error(exc) from None

    def dead_letters(self, limit: int = 100) -> list[Record]:
        with self._tx() as db:
            rows = (
                db.cursor(row_factory=dict_row)
                .execute(
                    f"SELECT {COLUMNS} FROM pacspace_summaries WHERE owner = %s AND state = 'dead'"
                    " ORDER BY id LIMIT %s",
                    (self._owner, limit),
                )
                .fetchall()
            )
        return [stored_record(row) for row in rows]

    def dead_count(self) -> int:
        return int(
            self._one(
                "SELECT COUNT(*) FROM pacspace_summaries WHERE owner = %s AND state = 'dead'",
                (self._owner,),
            )
        )

    def retry_dead(self, ids: Sequence[int] | None = None) -> int:
        chosen = None if ids is None else list(ids)  # None: every dead letter
        with self._tx() as db:
            return db.execute(
                "UPDATE pacspace_summaries SET state = 'pending', attempts = 0"
                " WHERE owner = %s AND state = 'dead' AND reference_id IS NOT NULL"
                " AND (%s::bigint[] IS NULL OR id = ANY(%s::bigint[]))",
                (self._owner, chosen, chosen),
            ).rowcount

    def close(self) -> None:
        with self._lock.get():
            pool, self._pool = self._pool, None
            if pool is not None and self._pid == os.getpid():
                pool.close()
