"""``meter.record(tx, ...)`` in the transaction whatever holds it: asyncpg, SQLAlchemy
(sync on psycopg, async on asyncpg; sessions and connections) and Django, each on a real
PostgreSQL. Usage in several reasons, one transaction of each pair rolled back: the
ledger holds exactly what committed."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

import pacspace_async as ps
from pacspace_async import PacSpace
from pacspace_sandbox import Sandbox, SandboxServer
from tests._clients import blocking_on_outbox
from tests._ledger import ledger

asyncpg = pytest.importorskip("asyncpg")
sqlalchemy = pytest.importorskip("sqlalchemy")

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

DAY = 1_779_840_010.0  # 2026-05-27: a window that has long ended


class Failed(Exception):
    """The caller's own work failing after it recorded: its transaction rolls back."""


@pytest.fixture
def meter_of(
    client_factory: Callable[..., PacSpace], postgres_url: str
) -> Callable[[], tuple[PacSpace, ps.Meter]]:
    def make() -> tuple[PacSpace, ps.Meter]:
        pac = client_factory(outbox=postgres_url, autoStart=False)
        meter = pac.balance.meter()
        meter._clock = lambda: DAY  # type: ignore[method-assign]
        return pac, meter

    return make


def sqlalchemy_url(url: str, driver: str) -> str:
    return url.replace("postgresql://", f"postgresql+{driver}://", 1)


EXPECTED = {"usage": Decimal("-3.25"), "storage": Decimal(-2)}


async def test_asyncpg_connection(
    meter_of: Callable[[], tuple[PacSpace, ps.Meter]], pacspace_sandbox: Sandbox, postgres_url: str
) -> None:
    pac, meter = meter_of()
    connection = await asyncpg.connect(postgres_url)
    try:
        async with connection.transaction():
            await meter.record(connection, "c", "-1.25")
            await meter.record(connection, "c", -2, reason="storage")
        with pytest.raises(Failed):
            async with connection.transaction():
                await meter.record(connection, "c", -100)
                raise Failed
        async with connection.transaction():
            await meter.record(connection, "c", -2)
    finally:
        await connection.close()
    assert (await pac.balance.flush_summaries()).accepted == 2
    assert ledger(pacspace_sandbox, "reason") == EXPECTED


async def test_asyncpg_pool_connection_and_a_failed_transaction(
    meter_of: Callable[[], tuple[PacSpace, ps.Meter]], postgres_url: str
) -> None:
    _, meter = meter_of()
    pool = await asyncpg.create_pool(postgres_url, min_size=1, max_size=1)
    try:
        async with pool.acquire() as connection:
            async with connection.transaction():
                await meter.record(connection, "c", -1)
            with pytest.raises(ps.OutboxError) as caught:
                async with connection.transaction():
                    with pytest.raises(asyncpg.PostgresError):
                        await connection.execute("SELECT 1/0")
                    await meter.record(connection, "c", -1)
            assert "already failed" in caught.value.message
    finally:
        await pool.close()


async def test_sqlalchemy_async_session_on_asyncpg(
    meter_of: Callable[[], tuple[PacSpace, ps.Meter]], pacspace_sandbox: Sandbox, postgres_url: str
) -> None:
    pac, meter = meter_of()
    engine = create_async_engine(sqlalchemy_url(postgres_url, "asyncpg"))
    try:
        async with AsyncSession(engine) as session:
            async with session.begin():
                await session.execute(text("SELECT 1"))  # the app's own work
                await meter.record(session, "c", "-1.25")
            with pytest.raises(Failed):
                async with session.begin():
                    await meter.record(session, "c", -100)
                    raise Failed
        async with engine.connect() as connection:  # an AsyncConnection, committed by hand
            await meter.record(connection, "c", -2, reason="storage")
            await meter.record(connection, "c", -2)
            await connection.commit()
    finally:
        await engine.dispose()
    assert (await pac.balance.flush_summaries()).accepted == 2
    assert ledger(pacspace_sandbox, "reason") == EXPECTED


async def test_sqlalchemy_session_on_psycopg(
    meter_of: Callable[[], tuple[PacSpace, ps.Meter]], pacspace_sandbox: Sandbox, postgres_url: str
) -> None:
    pac, meter = meter_of()
    engine = create_engine(sqlalchemy_url(postgres_url, "psycopg"))
    try:
        with Session(engine) as session:
            with session.begin():
                meter.record(session, "c", "-1.25")
                meter.record(session, "c", -2, reason="storage")
            with pytest.raises(Failed), session.begin():
                meter.record(session, "c", -100)
                raise Failed
        with engine.begin() as connection:  # a Connection in engine.begin()'s transaction
            meter.record(connection, "c", -2)
    finally:
        engine.dispose()
    assert (await pac.balance.flush_summaries()).accepted == 2
    assert ledger(pacspace_sandbox, "reason") == EXPECTED


async def test_sqlalchemy_refuses_a_session_beyond_postgres(
    meter_of: Callable[[], tuple[PacSpace, ps.Meter]], tmp_path: Any
) -> None:
    _, meter = meter_of()
    engine = create_engine(f"sqlite:///{tmp_path}/app.db")
    with Session(engine) as session, pytest.raises(ps.ValidationError) as caught:
        meter.record(session, "c", -1)
    assert caught.value.field == "connection" and "sqlite" in caught.value.message
    engine.dispose()


async def test_anything_else_is_refused_naming_what_is_taken(
    meter_of: Callable[[], tuple[PacSpace, ps.Meter]],
) -> None:
    _, meter = meter_of()
    with pytest.raises(ps.ValidationError) as caught:
        meter.record(object(), "c", -1)
    message = caught.value.message
    assert caught.value.field == "connection"
    for named in ("psycopg", "asyncpg", "SQLAlchemy", "AsyncSession", "Django"):
        assert named in message


def test_django_connection_in_atomic(
    pacspace_sandbox: Sandbox, pacspace_server: SandboxServer, postgres_url: str
) -> None:
    django = pytest.importorskip("django")
    from django.conf import settings

    from tests.stacks.apps._client import django_database

    database = django_database(postgres_url)
    if settings.configured:
        pytest.skip("Django was configured by another test in this process")
    settings.configure(DATABASES={"default": database}, USE_TZ=True)
    django.setup()
    from django.db import connection, connections, transaction

    with blocking_on_outbox(pacspace_sandbox, pacspace_server, postgres_url) as pac:
        meter = pac.balance.meter()
        meter._clock = lambda: DAY  # type: ignore[method-assign]
        with transaction.atomic():
            meter.record(connection, "c", "-1.25")
            meter.record(connections["default"], "c", -2, reason="storage")
        with pytest.raises(Failed), transaction.atomic():
            meter.record(connection, "c", -100)
            raise Failed
        with transaction.atomic():
            meter.record(connection, "c", -2)
        connection.close()
        assert pac.balance.flush_summaries().accepted == 2
    assert ledger(pacspace_sandbox, "reason") == EXPECTED
