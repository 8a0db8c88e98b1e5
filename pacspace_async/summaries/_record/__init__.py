"""``meter.record(tx, ...)``: one INSERT in the caller's own transaction, whatever holds it.

One small adapter per driver, each in its own module and imported only when a caller's
object comes from that driver (chosen by the module its type lives in, so a driver the
user does not have is never imported):

* ``_psycopg``: a psycopg ``Connection`` or ``AsyncConnection``;
* ``_asyncpg``: an asyncpg ``Connection`` (or a pool's connection);
* ``_sqlalchemy``: a SQLAlchemy ``Session``, ``AsyncSession``, ``Connection`` or
  ``AsyncConnection`` on PostgreSQL (psycopg or asyncpg driver), in its current
  transaction;
* ``_django``: Django's ``connection`` (or ``connections[alias]``) on PostgreSQL, inside
  ``transaction.atomic()``.

Every failure is an SDK error saying what to do (:mod:`._failure`); nothing here commits
or rolls back: the caller's transaction is left as the driver left it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib import import_module
from typing import Any, cast

from ..._errors import ValidationError

__all__ = ["ACCEPTED", "Statement", "execute"]

ACCEPTED = (
    "a psycopg Connection or AsyncConnection, an asyncpg Connection, a SQLAlchemy "
    "Session, AsyncSession, Connection or AsyncConnection on PostgreSQL, or Django's "
    "connection (django.db.connection or connections[alias])"
)

_ADAPTERS = {
    "psycopg": "._psycopg",
    "asyncpg": "._asyncpg",
    "sqlalchemy": "._sqlalchemy",
    "django": "._django",
}


@dataclass(frozen=True, slots=True)
class Statement:
    """The INSERT and what it needs around it: ``ready``/``aready`` make sure the outbox's
    tables exist (once per client), ``location`` names the outbox in errors."""

    sql: str
    params: tuple[Any, ...]
    ready: Callable[[], None]
    aready: Callable[[], Awaitable[None]]
    location: str | None

    def numbered(self, style: str) -> str:
        """The SQL with its ``%s`` placeholders as ``$1``… (``dollar``) or ``:p0``…
        (``named``), for drivers that do not take ``%s``."""
        parts = self.sql.split("%s")
        out = [parts[0]]
        for index, rest in enumerate(parts[1:]):
            out.append(f"${index + 1}" if style == "dollar" else f":p{index}")
            out.append(rest)
        return "".join(out)


def execute(connection: Any, statement: Statement) -> Awaitable[None] | None:
    """Run ``statement`` on the caller's ``connection``: an awaitable for an async one, at
    once for a blocking one; anything else is a ``ValidationError`` naming what is taken."""
    root = type(connection).__module__.partition(".")[0]
    adapter = _ADAPTERS.get(root)
    if adapter is not None:
        done: Any = import_module(adapter, __name__).run(connection, statement)
        if done is not NotImplemented:  # else the adapter's driver, but not a transaction
            return cast("Awaitable[None] | None", done)
    raise ValidationError(
        f"meter.record() takes the transaction your usage belongs to: {ACCEPTED}; "
        f"not {type(connection).__module__}.{type(connection).__name__}",
        field="connection",
    )
