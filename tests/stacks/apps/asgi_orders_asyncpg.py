"""``asgi_orders`` written on raw asyncpg: each ``POST /order`` inserts an order and
records its usage in one ``connection.transaction()`` of a pool opened by the worker's
first request; ``fail=1`` rolls the transaction (usage included) back. Served by gunicorn
with uvicorn workers."""

from __future__ import annotations

import os
from decimal import Decimal

import anyio
import asyncpg

from ._asgi import Failed, asgi_app, orders
from ._client import async_client

outbox = os.environ["PACSPACE_TEST_OUTBOX"]
pac = async_client()
meter = pac.balance.meter(window="1s")  # windows end within the test
_pool: list[asyncpg.Pool] = []
_opening = anyio.Lock()


async def pool() -> asyncpg.Pool:
    async with _opening:
        if not _pool:
            _pool.append(await asyncpg.create_pool(outbox, min_size=1, max_size=4))
    return _pool[0]


async def transact(customer: str, amount: str, reason: str, fail: bool) -> None:
    async with (await pool()).acquire() as connection, connection.transaction():
        await connection.execute(
            "INSERT INTO orders (customer, reason, amount) VALUES ($1, $2, $3)",
            customer,
            reason,
            Decimal(amount),
        )
        await meter.record(connection, customer, amount, reason=reason)
        if fail:
            raise Failed


async def close() -> None:
    await pac.aclose()
    for opened in _pool:
        await opened.close()


application = asgi_app(orders(transact), close)
