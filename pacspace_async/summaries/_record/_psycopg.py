"""psycopg 3: a ``Connection`` blocks, an ``AsyncConnection`` is awaited."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import psycopg

from . import Statement
from ._failure import outbox_error

__all__ = ["run"]


def run(connection: Any, statement: Statement) -> Awaitable[None] | Any | None:
    if isinstance(connection, psycopg.AsyncConnection):
        return _arun(connection, statement)
    if isinstance(connection, psycopg.Connection):
        statement.ready()
        try:
            connection.execute(statement.sql, statement.params)
        except Exception as exc:
            raise outbox_error(exc, statement.location) from exc
        return None
    return NotImplemented


async def _arun(connection: psycopg.AsyncConnection[Any], statement: Statement) -> None:
    await statement.aready()
    try:
        await connection.execute(statement.sql, statement.params)
    except Exception as exc:
        raise outbox_error(exc, statement.location) from exc
