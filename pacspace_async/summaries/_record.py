"""``meter.record(connection, ...)``: one INSERT in the caller's own transaction.

What a caller's connection can be (a psycopg ``Connection`` or ``AsyncConnection``), and
what its driver's failures mean for the caller: every failure is an SDK error that says
what to do, chained to the driver's own, and the caller's transaction is left as the
driver left it (a failed statement fails it; nothing here commits or rolls back).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from .._errors import OutboxError, PacSpaceError, ValidationError

__all__ = ["execute"]

Run = Callable[[str, tuple[Any, ...]], Awaitable[None] | None]


def execute(
    connection: Any,
    sql: str,
    params: tuple[Any, ...],
    *,
    ready: Callable[[], None],
    aready: Callable[[], Awaitable[None]],
    location: str | None,
) -> Awaitable[None] | None:
    """Run the statement on ``connection``: awaitable for an async connection, at once for
    a blocking one. ``ready``/``aready`` make sure the outbox's tables exist first."""
    try:
        import psycopg
    except ImportError:  # pragma: no cover - a PostgreSQL outbox already needed psycopg
        psycopg = None  # type: ignore[assignment]
    if psycopg is not None and isinstance(connection, psycopg.AsyncConnection):

        async def run() -> None:
            await aready()
            try:
                await connection.execute(sql, params)
            except Exception as exc:
                raise _error(exc, location) from exc

        return run()
    if psycopg is not None and isinstance(connection, psycopg.Connection):
        ready()
        try:
            connection.execute(sql, params)
        except Exception as exc:
            raise _error(exc, location) from exc
        return None
    raise ValidationError(
        "meter.record() takes the connection your transaction runs on: a psycopg "
        f"Connection or AsyncConnection, not {type(connection).__name__}",
        field="connection",
    )


def _error(exc: Exception, location: str | None) -> PacSpaceError:
    """The SDK's error for a driver's failure, saying what the caller should do."""
    import psycopg.errors

    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, psycopg.errors.InFailedSqlTransaction):
        what = (
            "the transaction is already failed (an earlier statement in it failed): "
            "roll back first, then record again in a new transaction"
        )
    elif isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError)):
        what = (
            f"the connection is closed or broken ({first}): nothing was recorded; "
            "open a new connection and record in a new transaction"
        )
    elif isinstance(exc, psycopg.errors.UndefinedTable):
        what = (
            f"the outbox's tables are missing on this connection's database ({first}): "
            "record on a connection to the outbox's database, or run `pacspace outbox init`"
        )
    elif isinstance(exc, psycopg.errors.InsufficientPrivilege):
        what = f"this role may not write the outbox's tables ({first}): grant it INSERT"
    else:
        what = f"the database refused the usage row ({first}): the transaction is now failed"
    return OutboxError(f"meter.record: {what}.", location)
