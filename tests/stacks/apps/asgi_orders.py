"""An ASGI app whose usage belongs to its database work, as FastAPI apps are written: each
``POST /order`` inserts an order and records its usage in the same SQLAlchemy
``AsyncSession`` transaction on asyncpg; ``fail=1`` makes the app's own work fail after
recording, so the transaction (usage included) rolls back. Served by gunicorn with
uvicorn workers; the lifespan's shutdown closes the client and the engine."""

from __future__ import annotations

import os

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from ._asgi import Failed, asgi_app, orders
from ._client import async_client

outbox = os.environ["PACSPACE_TEST_OUTBOX"]
engine = create_async_engine(outbox.replace("postgresql://", "postgresql+asyncpg://", 1))
pac = async_client()
meter = pac.balance.meter(window="1s")  # windows end within the test


async def transact(customer: str, amount: str, reason: str, fail: bool) -> None:
    async with AsyncSession(engine) as session, session.begin():
        await session.execute(
            text("INSERT INTO orders (customer, reason, amount) VALUES (:c, :r, :a)"),
            {"c": customer, "r": reason, "a": amount},
        )
        await meter.record(session, customer, amount, reason=reason)
        if fail:
            raise Failed


async def close() -> None:
    await pac.aclose()
    await engine.dispose()


application = asgi_app(orders(transact), close)
