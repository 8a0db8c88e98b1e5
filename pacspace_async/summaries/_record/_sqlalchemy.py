"""SQLAlchemy 2: a ``Session`` or ``Connection`` blocks, an ``AsyncSession`` or
``AsyncConnection`` is awaited; the row is written in the session's current transaction
(begun as the session begins one), on PostgreSQL only, with either driver."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import Session

from ..._errors import ValidationError
from . import Statement
from ._failure import outbox_error

__all__ = ["run"]


def run(connection: Any, statement: Statement) -> Awaitable[None] | Any | None:
    if isinstance(connection, (AsyncSession, AsyncConnection)):
        _postgres(_dialect(connection))
        return _arun(connection, statement)
    if isinstance(connection, (Session, Connection)):
        _postgres(_dialect(connection))
        statement.ready()
        try:
            connection.execute(*_bound(statement))
        except Exception as exc:
            raise _error(exc, statement) from exc
        return None
    return NotImplemented


async def _arun(connection: AsyncSession | AsyncConnection, statement: Statement) -> None:
    await statement.aready()
    try:
        await connection.execute(*_bound(statement))
    except Exception as exc:
        raise _error(exc, statement) from exc


def _bound(statement: Statement) -> tuple[Any, dict[str, Any]]:
    names = {f"p{i}": value for i, value in enumerate(statement.params)}
    return text(statement.numbered("named")), names


def _dialect(connection: Any) -> str:
    if isinstance(connection, (Connection, AsyncConnection)):
        return str(connection.dialect.name)
    try:
        bind = connection.get_bind()
    except sa_exc.UnboundExecutionError:
        raise ValidationError(
            "meter.record(): this SQLAlchemy session is bound to no engine", field="connection"
        ) from None
    return str(bind.dialect.name)


def _postgres(name: str) -> None:
    if name != "postgresql":
        raise ValidationError(
            f"meter.record() writes to the PostgreSQL outbox; this session is on {name}",
            field="connection",
        )


def _error(exc: Exception, statement: Statement) -> Exception:
    failed = isinstance(exc, sa_exc.PendingRollbackError)
    return outbox_error(exc, statement.location, failed=failed)
