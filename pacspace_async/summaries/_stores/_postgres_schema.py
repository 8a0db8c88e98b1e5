"""The PostgreSQL outbox's schema and how it is created beside running writers, its
database named without the password, and its rows as records.

Tables are created on first use (``pacspace outbox init`` creates them for teams that run
their own migrations; ``--sql`` prints the SQL)."""

from __future__ import annotations

import logging
import os
import random
import sys
import time
from contextlib import suppress
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool, PoolTimeout

from ..._aio import gevent_patched
from ..._errors import OutboxError
from ..._time import parse_iso
from .._identity import new_token
from ._base import DEAD, OPEN, PENDING, Record, Stats

__all__ = [
    "COLUMNS",
    "LOCK_SEAL",
    "RECORD_USAGE",
    "SCHEMA",
    "create_schema",
    "read_stats",
    "redact_url",
    "store_error",
    "warn_if_psycopg_blocks_gevent",
]

log = logging.getLogger("pacspace")

SCHEMA = """\
CREATE TABLE IF NOT EXISTS pacspace_meta (
    name text PRIMARY KEY,
    value text NOT NULL
);
CREATE TABLE IF NOT EXISTS pacspace_summaries (
    id bigserial PRIMARY KEY,
    owner text NOT NULL,
    producer text,
    state text NOT NULL,
    customer_id text NOT NULL,
    reason text NOT NULL,
    window_start text NOT NULL,
    window_end text NOT NULL,
    delta numeric NOT NULL,
    reference_id text,
    metadata jsonb NOT NULL DEFAULT '{}',
    queued_at text NOT NULL DEFAULT '',
    attempts integer NOT NULL DEFAULT 0,
    last_error text
);
CREATE INDEX IF NOT EXISTS pacspace_summaries_queue ON pacspace_summaries (owner, state, id);
CREATE UNIQUE INDEX IF NOT EXISTS pacspace_summaries_open
    ON pacspace_summaries (owner, producer, customer_id, reason, window_start, window_end)
    WHERE state = 'open';
CREATE TABLE IF NOT EXISTS pacspace_usage (
    id bigserial PRIMARY KEY,
    owner text NOT NULL,
    producer text,
    customer_id text NOT NULL,
    reason text NOT NULL,
    window_start text NOT NULL,
    window_end text NOT NULL,
    window_end_at double precision NOT NULL,
    amount numeric NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS pacspace_usage_due ON pacspace_usage (owner, window_end_at);
CREATE UNIQUE INDEX IF NOT EXISTS pacspace_usage_journal
    ON pacspace_usage (owner, producer, customer_id, reason, window_start, window_end)
    WHERE producer IS NOT NULL;
"""
LOCK_SEAL = 0x7365616C  # pg_advisory_xact_lock key of sealing: "seal"
COLUMNS = (
    "id, customer_id, reason, window_start, window_end, delta, reference_id, metadata,"
    " queued_at, state, attempts, last_error, producer"
)
"""A summary row, as :func:`stored_record` reads it."""
RECORD_USAGE = (
    "INSERT INTO pacspace_usage (owner, customer_id, reason, window_start, window_end,"
    " window_end_at, amount) VALUES (%s, %s, %s, %s, %s, %s, %s)"
)
"""The one statement ``meter.record`` runs in the caller's transaction."""
LOCK_TIMEOUT = 5
"""Seconds schema creation waits for a table lock before it gives up and tries again."""
CREATE_ATTEMPTS = 5
OBJECTS = (
    "pacspace_meta",
    "pacspace_summaries",
    "pacspace_summaries_queue",
    "pacspace_summaries_open",
    "pacspace_usage",
    "pacspace_usage_due",
    "pacspace_usage_journal",
)
"""Every table and index of :data:`SCHEMA`."""
LOCK_SCHEMA = 0x70616373  # pg_advisory_xact_lock keys: "pacs"


def redact_url(url: str) -> str:
    """The database a URL names, without its password: ``postgresql://user@host:5432/db``."""
    try:
        parts = conninfo_to_dict(url)
    except psycopg.Error:
        return "postgresql://(unparsable URL)"
    user = f"{parts['user']}@" if parts.get("user") else ""
    host = str(parts.get("host") or "localhost")
    port = f":{parts['port']}" if parts.get("port") else ""
    return f"postgresql://{user}{host}{port}/{parts.get('dbname') or ''}"


def schema_present(connection: psycopg.Connection[Any]) -> bool:
    """Whether every table and index exists (a catalog read: no lock on the tables)."""
    row = connection.execute(
        "SELECT bool_and(to_regclass(name) IS NOT NULL) FROM unnest(%s::text[]) AS name",
        (list(OBJECTS),),
    ).fetchone()
    return bool(row and row[0])


REFUSED = (psycopg.DataError, psycopg.IntegrityError, ValueError)
"""Failures that are about one row's values (NUL in text, an encoding, a constraint), not
about the database: they never stop the rest. ``UnicodeEncodeError`` is a ``ValueError``."""


def seconds_since(now: float, stamp: Any) -> float | None:
    try:
        return max(0.0, now - parse_iso(str(stamp)).timestamp())
    except ValueError:
        return None


def give_back(pool: ConnectionPool[Any], connection: psycopg.Connection[Any]) -> None:
    if connection.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        with suppress(psycopg.Error):
            connection.rollback()
    pool.putconn(connection)


def stored_record(row: dict[str, Any]) -> Record:
    return Record.stored(row, Decimal(row["delta"]), dict(row["metadata"] or {}))


def create_schema(pool: ConnectionPool[Any]) -> str:
    """Create what is missing of :data:`SCHEMA` (asking the catalog first, creating under
    an advisory lock) and return the database's scope. A deadlock or a lock wait beyond
    :data:`LOCK_TIMEOUT` is tried again, :data:`CREATE_ATTEMPTS` times; the last one
    raises, as any other ``psycopg`` error does."""
    for attempt in range(CREATE_ATTEMPTS):
        try:
            with pool.connection() as connection:
                with connection.transaction():
                    present = schema_present(connection)
                if not present:
                    with connection.transaction():
                        connection.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_SCHEMA,))
                        connection.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}s'")
                        if not schema_present(connection):
                            connection.execute(SCHEMA)
                with connection.transaction():
                    connection.execute(
                        "INSERT INTO pacspace_meta (name, value) VALUES ('scope', %s)"
                        " ON CONFLICT (name) DO NOTHING",
                        (f"pg:{new_token()}",),
                    )
                    row = connection.execute(
                        "SELECT value FROM pacspace_meta WHERE name = 'scope'"
                    ).fetchone()
                    assert row is not None
                    scope = str(row[0])
            return scope
        except (psycopg.errors.DeadlockDetected, psycopg.errors.LockNotAvailable):
            if attempt == CREATE_ATTEMPTS - 1:
                raise
            time.sleep(0.05 * (attempt + 1) * (1 + random.random()))
    raise AssertionError("unreachable")  # the last attempt raises


def read_stats(db: psycopg.Connection[Any], owner: str, producer: str | None) -> Stats:
    """Counts and ages by state. Rows a sender holds are told by a lock that conflicts
    with its ``FOR UPDATE`` only (``FOR KEY SHARE SKIP LOCKED``), in a transaction that
    is rolled back: nothing changes."""
    try:
        by_state = {
            row[0]: row[1:]
            for row in db.execute(
                "SELECT state, COUNT(*), MIN(queued_at),"
                " COUNT(*) FILTER (WHERE producer = %s),"
                " COALESCE(SUM(delta) FILTER (WHERE producer = %s), 0)"
                " FROM pacspace_summaries WHERE owner = %s GROUP BY state",
                (producer, producer, owner),
            ).fetchall()
        }
        usage = db.execute(
            "SELECT COUNT(*), MIN(window_end_at),"
            " COUNT(*) FILTER (WHERE producer = %s),"
            " COALESCE(SUM(amount) FILTER (WHERE producer = %s), 0)"
            " FROM pacspace_usage WHERE owner = %s",
            (producer, producer, owner),
        ).fetchone()
        free = db.execute(
            "SELECT COUNT(*) FROM (SELECT id FROM pacspace_summaries"
            " WHERE owner = %s AND state = 'pending' FOR KEY SHARE SKIP LOCKED) AS f",
            (owner,),
        ).fetchone()
    finally:
        db.rollback()
    assert usage is not None and free is not None
    now = time.time()

    def count(state: str) -> int:
        return int(by_state[state][0]) if state in by_state else 0

    def age(state: str) -> float | None:
        return seconds_since(now, by_state[state][1]) if state in by_state else None

    live = [s for s in (OPEN, PENDING) if s in by_state]
    ages = [a for a in (age(OPEN), age(PENDING)) if a is not None]
    return Stats(
        usage=int(usage[0]),
        open=count(OPEN),
        pending=count(PENDING),
        sending=max(0, count(PENDING) - int(free[0])),
        dead=count(DEAD),
        own_usage=int(usage[2]),
        own_summaries=sum(int(by_state[s][2]) for s in live),
        own_total=Decimal(usage[3]) + sum((Decimal(by_state[s][3]) for s in live), Decimal(0)),
        oldest_usage=None if usage[1] is None else max(0.0, now - float(usage[1])),
        oldest_summary=max(ages) if ages else None,
        oldest_dead=age(DEAD),
    )


def store_error(location: str | None, exc: BaseException, *, timeout: float) -> OutboxError:
    """The outbox's error for a driver's or the pool's failure, naming the database
    (never its password) and what to do."""
    if isinstance(exc, PoolTimeout):
        what = f"no connection within {timeout:g} s"
        advice = "check that the database is up and reachable, then retry"
    else:
        what = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        advice = "check the database and this role's rights, then retry"
    return OutboxError(
        f"Summary outbox {location} failed ({what}): {advice}. "
        "Summaries already queued in it are kept.",
        location,
    )


_warned_pids: set[int] = set()


def warn_if_psycopg_blocks_gevent() -> None:
    """Once per process: psycopg chose its C wait (it was imported before gevent patched,
    as under ``gunicorn --preload -k gevent``), so every query blocks the whole worker
    while it waits, a PostgreSQL lock wait included."""
    if os.getpid() in _warned_pids or not gevent_patched():
        return
    _warned_pids.add(os.getpid())
    waiting = sys.modules.get("psycopg.waiting")
    if waiting is not None and getattr(waiting, "wait", None) is getattr(waiting, "wait_c", 0):
        log.warning(
            "pacspace: psycopg was imported before gevent patched this process, so its "
            "queries (the outbox's and your app's) block every greenlet of the worker while "
            "they wait; set PSYCOPG_WAIT_FUNC=wait_selector in the server's environment, or "
            "import psycopg after gevent patches"
        )
