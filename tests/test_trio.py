"""Under anyio's trio backend: the client picks httpx itself (aiohttp is asyncio-only, and
asking for it there is a clear error), its request/response calls work, and closing it
delivers and reports as on asyncio. (Waits and the summary scheduler are not yet on
anyio: see the README's limits.)"""

from __future__ import annotations

from decimal import Decimal

import anyio
import pytest

import pacspace_async as ps
from pacspace_async import PacSpace
from pacspace_sandbox import Sandbox, SandboxServer

pytest.importorskip("trio")


def on_trio(main: object) -> None:
    anyio.run(main, backend="trio")  # type: ignore[arg-type]


def test_calls_and_close_on_trio(pacspace_sandbox: Sandbox, pacspace_server: SandboxServer) -> None:
    async def main() -> None:
        pac = PacSpace(pacspace_sandbox.api_key, base_url=pacspace_server.url)
        assert pac._transport._backend.__class__.__name__ == "HttpxBackend"
        emitted = await pac.balance.emit("cust_trio", "-1.25", "usage", reference_id="t1")
        assert emitted.record_id
        pac.balance.queue_summary({"customerId": "cust_trio", "delta": -2})
        derived = await pac.balance.derive("cust_trio")
        assert isinstance(derived.computed_balance, Decimal)
        report = await pac.aclose()  # delivers the queued summary, on trio
        assert report.lost == 0 and report.flushed is not None and report.flushed.accepted == 1

    on_trio(main)


def test_aiohttp_on_trio_is_a_clear_error(
    pacspace_sandbox: Sandbox, pacspace_server: SandboxServer
) -> None:
    built_outside = PacSpace(
        pacspace_sandbox.api_key, base_url=pacspace_server.url, http_backend="aiohttp"
    )

    async def main() -> None:
        with pytest.raises(ps.ValidationError) as caught:
            PacSpace(pacspace_sandbox.api_key, base_url=pacspace_server.url, http_backend="aiohttp")
        assert caught.value.field == "http_backend" and "httpx" in caught.value.message
        with pytest.raises(ps.ValidationError) as caught:
            await built_outside.balance.emit("c", -1, "usage", max_retries=0)
        assert caught.value.field == "http_backend"

    on_trio(main)
    anyio.run(built_outside.aclose)
