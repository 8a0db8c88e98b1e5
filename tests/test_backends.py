"""The same behaviour on both HTTP backends, over real loopback sockets."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import pytest

import pacspace_async as ps
from pacspace_async import PacSpace
from pacspace_sandbox import Sandbox, SandboxConfig, SandboxServer

from ._chaos import DroppingProxy

BACKENDS = ["httpx", "aiohttp"]


@pytest.fixture
def pacspace_sandbox_config() -> SandboxConfig:
    return SandboxConfig(verify_latency=0.05, seed=2)


@pytest.mark.parametrize("backend", BACKENDS)
async def test_the_flow(
    backend: str, pacspace_server: SandboxServer, pacspace_sandbox: Sandbox
) -> None:
    async with PacSpace(
        pacspace_sandbox.api_key, base_url=pacspace_server.url, http_backend=backend
    ) as pac:
        verified = await pac.balance.emit_and_wait(
            "cust_b", "-1.10", "usage", timeout=5, poll_interval=0.05
        )
        assert verified.status == "VERIFIED"
        results = await pac.balance.emit_many(
            [{"customerId": "cust_b", "delta": "-0.90", "reason": "u"}] * 20
        )
        assert all(isinstance(r, ps.types.EmitResult) for r in results)
        await asyncio.gather(*(pac.balance.wait_for_verified(r.record_id or "") for r in results))  # type: ignore[union-attr]
        derived = await pac.balance.derive("cust_b")
        assert str(derived.computed_balance) == "-19.10"
        with pytest.raises(ps.NotFoundError):
            await pac.balance.delta_status("r_missing")
        pdf = await pac.balance.receipts.download_pdf(verified.receipt_id or "")
        assert pdf.startswith(b"%PDF")
    async with PacSpace(
        "pk_test_wrong.key", base_url=pacspace_server.url, http_backend=backend
    ) as wrong:
        with pytest.raises(ps.InvalidApiKeyError):
            await wrong.balance.usage()


@pytest.fixture
def dropping(pacspace_server: SandboxServer) -> Iterator[DroppingProxy]:
    port = int(pacspace_server.url.rsplit(":", 1)[1])
    with DroppingProxy(
        port, lambda n, line: line.startswith(b"POST /api/v1/balance/delta ") and n % 3 == 1
    ) as proxy:
        yield proxy


@pytest.mark.parametrize("backend", BACKENDS)
async def test_drops_after_commit_are_recorded_once(
    backend: str, dropping: DroppingProxy, pacspace_sandbox: Sandbox, no_sleep: list[float]
) -> None:
    customer = f"cust_drop_{backend}"
    async with PacSpace(
        pacspace_sandbox.api_key, base_url=f"http://127.0.0.1:{dropping.port}", http_backend=backend
    ) as pac:
        for i in range(9):
            await pac.balance.emit(customer, 1, f"usage {i}")
    assert dropping.dropped >= 3
    assert (
        pacspace_sandbox.ledger.store.scalar(
            "SELECT COUNT(*) FROM deltas WHERE customer_id = ?", [customer]
        )
        == 9
    )


@pytest.mark.parametrize("backend", BACKENDS)
async def test_rate_limits_are_waited_out(backend: str) -> None:
    sandbox = Sandbox(SandboxConfig(rate_limit=5))
    with sandbox.serve() as server:
        async with PacSpace(
            sandbox.api_key, base_url=server.url, http_backend=backend, max_retries=5
        ) as pac:
            answers = await asyncio.gather(*(pac.balance.usage() for _ in range(12)))
    assert len(answers) == 12


@pytest.mark.parametrize("backend", BACKENDS)
async def test_connection_failures_are_api_connection_errors(
    backend: str, no_sleep: list[float]
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with PacSpace(
        "pk_test_a.b", base_url=f"http://127.0.0.1:{port}", http_backend=backend
    ) as pac:
        with pytest.raises(ps.APIConnectionError) as caught:
            await pac.balance.usage()
    assert caught.value.__cause__ is not None and len(no_sleep) == 2  # retried twice, then raised
