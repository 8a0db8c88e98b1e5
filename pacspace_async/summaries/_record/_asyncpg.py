"""asyncpg (``pip install "pacspace[asyncpg]"``): a ``Connection`` or a pool's connection,
awaited; the statement in asyncpg's ``$1`` placeholders."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from . import Statement
from ._failure import outbox_error

__all__ = ["run"]


def run(connection: Any, statement: Statement) -> Awaitable[None] | Any:
    if isinstance(connection, (asyncpg.Connection, PoolConnectionProxy)):
        return _arun(connection, statement)
    return NotImplemented


async def _arun(connection: Any, statement: Statement) -> None:
    await statement.aready()
    try:
        await connection.execute(statement.numbered("dollar"), *statement.params)
    except Exception as exc:
        raise outbox_error(exc, statement.location) from exc
