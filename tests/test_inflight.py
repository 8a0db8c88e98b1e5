"""Requests on the wire are bounded by the pool (the rest wait in line, in order, each
for its own pool timeout), httpcore's pools never queue, and closing a client with work
in flight ends every request, starts none, and leaves no socket or session open."""

from __future__ import annotations

import asyncio
import gc
import json
import warnings
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import httpcore
import httpx
import psutil
import pytest

import pacspace_async
from pacspace_async._backends import MAX_CONNECTIONS

from ._loopback import read_message
from .test_transport_option import KEY, envelope

pytestmark = pytest.mark.filterwarnings("error::ResourceWarning")

BACKENDS = ["httpx", "aiohttp"]


async def until(condition: Callable[[], bool], limit: float = 10.0) -> None:
    with anyio.fail_after(limit):
        while True:
            if condition():
                return
            await asyncio.sleep(0.01)


class Gate:
    """An ``async def`` transport that holds every request until released, noting the
    order they reached it in and how many it held at once."""

    def __init__(self) -> None:
        self.arrived: list[str] = []
        self.held = 0
        self.most = 0
        self.release = asyncio.Event()

    async def __call__(
        self, method: str, url: str, headers: dict[str, str], body: str | None, timeout_ms: int
    ) -> Any:
        sent = json.loads(body or "{}")
        self.arrived.append(sent.get("customerId", url))
        self.held += 1
        self.most = max(self.most, self.held)
        try:
            await self.release.wait()
        finally:
            self.held -= 1
        return envelope(
            {"recordId": "rec_1", "status": "QUEUED", "customerId": sent["customerId"], "delta": -1}
        )


async def test_requests_beyond_the_pool_wait_in_line_in_order() -> None:
    gate = Gate()
    count = MAX_CONNECTIONS + 72
    async with pacspace_async.PacSpace(KEY, transport=gate, max_retries=0) as pac:
        tasks = []
        for i in range(count):  # started in this order
            tasks.append(asyncio.create_task(pac.balance.emit(f"cust_{i:03d}", -1, "usage")))
            await asyncio.sleep(0)
        await until(lambda: len(gate.arrived) >= MAX_CONNECTIONS)
        await asyncio.sleep(0.05)
        assert gate.held == MAX_CONNECTIONS  # the rest wait in the SDK's line
        gate.release.set()
        await asyncio.gather(*tasks)
    assert gate.most == MAX_CONNECTIONS
    assert gate.arrived == [f"cust_{i:03d}" for i in range(count)]


async def test_a_call_waits_in_line_no_longer_than_its_pool_timeout() -> None:
    gate = Gate()
    timeout = httpx.Timeout(30, pool=0.2)
    async with pacspace_async.PacSpace(KEY, transport=gate, timeout=timeout, max_retries=0) as pac:
        held = [asyncio.create_task(pac.balance.usage()) for _ in range(MAX_CONNECTIONS)]
        await until(lambda: gate.held >= MAX_CONNECTIONS)
        with pytest.raises(pacspace_async.APITimeoutError, match="no connection came free"):
            await pac.balance.emit("cust_late", -1, "usage")
        assert "cust_late" not in gate.arrived
        gate.release.set()
        await asyncio.gather(*held, return_exceptions=True)


class Server:
    """A loopback HTTP server on the test's loop: ``hold`` GETs are never answered (till
    the client goes), POSTs get ``post_status``; every connection is counted."""

    def __init__(self, post_status: int = 200) -> None:
        self.post_status = post_status
        self.connections = 0
        self.open = 0
        self.requests: list[bytes] = []
        self.server: asyncio.Server | None = None

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open += 1
        try:
            while True:
                message = await read_message(reader)
                self.requests.append(message.split(b"\r\n", 1)[0])
                if message.startswith(b"GET"):
                    await reader.read()  # never answered: until the client closes
                    return
                body = json.dumps(
                    {
                        "success": self.post_status < 300,
                        "data": {"recordId": "r", "status": "QUEUED"},
                    }
                    if self.post_status < 300
                    else {"success": False, "error": {"code": "UNAVAILABLE", "message": "busy"}}
                ).encode()
                writer.write(
                    f"HTTP/1.1 {self.post_status} X\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.open -= 1
            writer.close()

    async def aclose(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    s = Server()
    yield s
    await s.aclose()


def _client_sockets(port: int) -> int:
    return sum(
        1
        for c in psutil.Process().net_connections("tcp")
        if c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED
    )


async def _settle(server: Server) -> None:
    for _ in range(200):
        if server.open == 0:
            return
        await asyncio.sleep(0.01)


@pytest.mark.parametrize("backend", BACKENDS)
async def test_closing_with_status_checks_in_flight_ends_them_and_leaves_no_socket(
    backend: str, server: Server
) -> None:
    url = await server.start()
    port = int(url.rsplit(":", 1)[1])
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        for _ in range(3):  # rounds: the leak was intermittent
            before = server.connections
            pac = pacspace_async.PacSpace(KEY, base_url=url, http_backend=backend, timeout=30)
            checks = [asyncio.create_task(pac.balance.delta_status(f"rec_{i}")) for i in range(20)]
            await until(lambda b=before: server.connections - b >= 20)  # type: ignore[misc]
            await pac.aclose()
            results = await asyncio.gather(*checks, return_exceptions=True)
            assert all(
                isinstance(r, pacspace_async.PacSpaceError) and r.code == "CLIENT_CLOSED"
                for r in results
            ), results
            assert "on the wire" in str(results[0])
            await _settle(server)
            assert server.open == 0
            assert _client_sockets(port) == 0
            gc.collect()


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_retry_due_after_the_close_never_reaches_the_server(backend: str) -> None:
    s = Server(post_status=503)
    url = await s.start()
    try:
        pac = pacspace_async.PacSpace(KEY, base_url=url, http_backend=backend, max_retries=3)
        call = asyncio.create_task(pac.balance.emit("cust_1", -1, "usage"))
        await until(lambda: bool(s.requests))
        await asyncio.sleep(0.05)  # the 503 is in; the retry waits its backoff
        await pac.aclose()
        with pytest.raises(pacspace_async.PacSpaceError) as caught:
            await call
        assert caught.value.code == "CLIENT_CLOSED"
        assert len(s.requests) == 1  # the retry was never sent (no new session opened)
        await _settle(s)
        assert s.open == 0
        gc.collect()
    finally:
        await s.aclose()


async def test_the_httpx_backends_pools_never_queue(monkeypatch: pytest.MonkeyPatch) -> None:
    """The cause of the stall at 1,000 in flight: requests queued inside httpcore, each
    arrival and departure re-scanning the queue against every connection."""
    most = 0
    original = httpcore.AsyncConnectionPool.handle_async_request

    async def watched(self: httpcore.AsyncConnectionPool, request: httpcore.Request) -> Any:
        nonlocal most
        most = max(most, len(self._requests) + 1)
        return await original(self, request)

    monkeypatch.setattr(httpcore.AsyncConnectionPool, "handle_async_request", watched)
    s = Server()
    url = await s.start()
    try:
        async with pacspace_async.PacSpace(KEY, base_url=url, http_backend="httpx") as pac:
            await asyncio.gather(*(pac.balance.emit(f"c{i}", -1, "usage") for i in range(400)))
        assert len(s.requests) == 400
        from pacspace_async._backends._httpx import SHARD_SIZE

        assert most <= SHARD_SIZE
    finally:
        await s.aclose()
