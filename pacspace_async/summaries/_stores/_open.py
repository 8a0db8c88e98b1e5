"""``outbox`` → a store: none is memory, a ``postgresql://`` URL is PostgreSQL, else a SQLite path."""

from __future__ import annotations

from ._base import Store
from ._memory import MemoryStore

__all__ = ["is_postgres", "open_store", "postgres_schema", "prepare_postgres_outbox"]


def is_postgres(outbox: str) -> bool:
    return outbox.startswith(("postgresql://", "postgres://"))


def open_store(outbox: str | None, owner: str, *, max_attempts: int = 3) -> Store:
    if outbox is None:
        return MemoryStore(max_attempts=max_attempts)
    if is_postgres(outbox):
        from ._postgres import PostgresStore  # psycopg is the optional [postgres] extra

        return PostgresStore(outbox, owner, max_attempts=max_attempts)
    from ._sqlite import SQLiteStore

    return SQLiteStore(outbox, owner, max_attempts=max_attempts)


def postgres_schema() -> str:
    """The SQL of the PostgreSQL outbox's tables, for teams that run their own migrations."""
    from ._postgres_schema import SCHEMA

    return SCHEMA


def prepare_postgres_outbox(url: str) -> str:
    """Create what is missing of the PostgreSQL outbox at ``url`` (safe beside running
    writers); returns the database, named without its password."""
    from ._postgres import PostgresStore

    store = PostgresStore(url, owner="")
    try:
        store.ensure_ready()
    finally:
        store.close()
    return str(store.location)
