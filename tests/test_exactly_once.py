"""A retried emit is recorded exactly once, even when the connection drops after commit."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from pacspace_async import PacSpace
from pacspace_sandbox import IN_PROCESS_URL, Sandbox

from ._chaos import DroppingProxy

N = 12


def recorded(sandbox: Sandbox, customer: str) -> int:
    return int(
        sandbox.ledger.store.scalar("SELECT COUNT(*) FROM deltas WHERE customer_id = ?", [customer])
    )


class DropFirstAnswer(httpx.AsyncBaseTransport):
    """Serve in-process, but lose the answer to the first POST after the sandbox committed it."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.dropped = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.method == "POST" and not self.dropped:
            self.dropped = True
            await response.aread()
            raise httpx.RemoteProtocolError("connection dropped after the server committed")
        return response


async def test_in_process_drop_is_recorded_once(
    pacspace_sandbox: Sandbox, no_sleep: list[float]
) -> None:
    transport = DropFirstAnswer(pacspace_sandbox.transport())
    http = httpx.AsyncClient(transport=transport)
    async with PacSpace(pacspace_sandbox.api_key, base_url=IN_PROCESS_URL, http_client=http) as pac:
        result = await pac.balance.emit("cust_once", 5, "usage")
    await http.aclose()
    assert transport.dropped and result.idempotent is True
    assert recorded(pacspace_sandbox, "cust_once") == 1


def every_fourth_emit(n: int, request_line: bytes) -> bool:
    return request_line.startswith(b"POST /api/v1/balance/delta ") and n % 4 == 2


@pytest.fixture
def dropping(pacspace_server: object) -> DroppingProxy:
    port = int(pacspace_server.url.rsplit(":", 1)[1])  # type: ignore[attr-defined]
    with DroppingProxy(port, every_fourth_emit) as proxy:
        yield proxy


def test_over_loopback_ours_records_once_where_the_official_client_doubles(
    pacspace_sandbox: Sandbox, dropping: DroppingProxy
) -> None:
    pacspace_sdk = pytest.importorskip("pacspace_sdk")
    url = f"http://127.0.0.1:{dropping.port}"

    official = pacspace_sdk.PacSpace(pacspace_sandbox.api_key, base_url=url)
    for i in range(N):
        official.balance.emit("cust_official", 1, f"usage {i}")
    dropped_official = dropping.dropped

    async def ours() -> None:
        async with PacSpace(pacspace_sandbox.api_key, base_url=url) as pac:
            for i in range(N):
                await pac.balance.emit("cust_ours", 1, f"usage {i}")

    asyncio.run(ours())
    assert dropped_official >= 2 and dropping.dropped - dropped_official >= 2
    assert recorded(pacspace_sandbox, "cust_official") > N  # the peer records some twice
    assert recorded(pacspace_sandbox, "cust_ours") == N
