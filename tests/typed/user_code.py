"""A user's typed module: it must pass ``mypy --strict`` and pyright against the SDK.

Checked by ``tests/test_typing.py``; never imported by the test run itself.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pacspace_async
import pacspace_sync
from pacspace_async import ClientOptions, PacSpace, WebhookEvent, WebhookVerificationError
from pacspace_async.types import DeltaStatus, EmitResult, RecordStatus


async def record(pac: PacSpace) -> Decimal:
    emitted: EmitResult = await pac.balance.emit("cust_1", Decimal("-4.5"), "usage")
    status: DeltaStatus = emitted.status
    if status == "FAILED":
        return Decimal(0)
    verified: RecordStatus = await pac.balance.wait_for_verified(
        emitted.record_id, timeout=timedelta(seconds=30)
    )
    assert verified.is_terminal
    balance = await pac.balance.derive("cust_1")
    report = await pac.balance.compare("cust_1", yours=balance.computed_balance, theirs=0)
    agreed: bool = report.matches_yours and report.matches_theirs
    return balance.computed_balance if agreed else Decimal(0)


def options() -> PacSpace:
    settings: ClientOptions = {"timeout": 30_000, "http_backend": "httpx", "max_retries": 3}
    return PacSpace.init("pk_test_a.b", **settings)


def blocking(pac: pacspace_sync.PacSpace, body: bytes, headers: dict[str, str]) -> str:
    try:
        event: WebhookEvent = pac.webhooks.verify_from_headers(headers, body)
    except WebhookVerificationError as err:
        return err.reason
    emitted = pac.balance.emit("cust_1", 3, "usage", reference_id="r1")
    pac.balance.wait_for_verified(emitted.record_id)
    return event.event


def constructed() -> pacspace_async.PacSpace:
    return PacSpace("pk_test_a.b", timeout=10, http_backend="aiohttp")


@dataclass
class FakeAnswer:
    status_code: int
    headers: dict[str, str]
    body: bytes


def fake_service(
    method: str, url: str, headers: dict[str, str], body: str | None, timeout_ms: int
) -> FakeAnswer:
    return FakeAnswer(200, {}, b'{"success": true, "data": {"used": 1}}')


def faked() -> pacspace_sync.PacSpace:
    pac = pacspace_sync.PacSpace.init("pk_test_a.b", transport=fake_service)
    pac.shutdown("done")
    return pac


async def first_of_stream(pac: PacSpace) -> EmitResult | None:
    # A stream left early is closed at once (its requests in flight stop), not at exit.
    items = [{"customerId": "cust_1", "delta": -1, "reason": "usage"}] * 3
    async with contextlib.aclosing(pac.balance.emit_stream(items)) as results:
        async for result in results:
            return result if isinstance(result, EmitResult) else None
    pages = pac.balance.iter_customers()
    await pages.aclose()
    return None


def first_of_stream_blocking(pac: pacspace_sync.PacSpace) -> EmitResult | None:
    items = [{"customerId": "cust_1", "delta": -1, "reason": "usage"}] * 3
    with contextlib.closing(pac.balance.emit_stream(items)) as results:
        for result in results:
            return result if isinstance(result, EmitResult) else None
    return None


@dataclass
class Metering:
    """A user's type that holds a meter and a close report by the package's own names."""

    meter: pacspace_async.Meter
    blocking_meter: pacspace_sync.Meter
    last_close: pacspace_async.CloseReport | None = None

    async def close(self, pac: PacSpace) -> int:
        self.meter.add("cust_1", 1)
        self.last_close = await pac.aclose()
        return self.last_close.lost


async def record_in_transactions(meter: pacspace_async.Meter) -> None:
    """``meter.record`` is awaited with an async transaction and blocks with the others."""
    import psycopg
    from sqlalchemy.ext.asyncio import AsyncSession
    from sqlalchemy.orm import Session

    async with await psycopg.AsyncConnection.connect("postgresql://") as aconn:
        await meter.record(aconn, "cust_1", -1)
    with psycopg.connect("postgresql://") as conn:
        meter.record(conn, "cust_1", -1)
    with Session() as session:
        meter.record(session, "cust_1", Decimal("-1.5"), reason="storage")
    async with AsyncSession() as asession:
        await meter.record(asession, "cust_1", "-2")
