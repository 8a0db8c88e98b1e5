"""Waits a fleet shares: the delivery received by another process.

One process receives the sandbox's signed deliveries on its ASGI endpoint; this one holds
the waits, on the same PostgreSQL outbox (a throwaway server from ``pgserver``), and hears
them through the outbox's delivery channel. pacspace-sdk, which has no way to hear a
delivery another process received, polls. Both wait on the same loopback sandbox.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Callable

from ._common import free_port, percentile, serve_process
from ._table import Row
from .waits import _official_waits

WAITS = 300
SECRET = "whsec_bench_fleet"


async def _ours(
    key: str, url: str, outbox: str, verified_at: Callable[[str], float]
) -> tuple[float, list[float]]:
    import anyio

    import pacspace_async

    async with pacspace_async.PacSpace(
        key, base_url=url, submission={"outbox": outbox, "autoStart": False}
    ) as pac:

        async def burst(tag: str, count: int) -> tuple[float, list[float]]:
            before = pac.balance._waiter.status_requests
            seen: dict[str, float] = {}

            async def one(i: int) -> None:
                result = await pac.balance.emit_and_wait(
                    f"cust_{i % 50}", -1, "usage", reference_id=f"{tag}{i}", timeout=30
                )
                seen[result.record_id or ""] = time.time()

            async with anyio.create_task_group() as tasks:
                for i in range(count):
                    tasks.start_soon(one, i)
            lags = [(at - verified_at(record)) * 1000 for record, at in seen.items()]
            return (pac.balance._waiter.status_requests - before) / count, lags

        await burst("warm", 20)  # a fresh client scouts until the first delivery arrives
        return await burst("fed", WAITS)


def fleet_waits() -> Row:
    import pgserver

    from pacspace_sandbox import Sandbox, SandboxConfig

    with tempfile.TemporaryDirectory() as data:
        with warnings.catch_warnings():  # no XDG_RUNTIME_DIR on CI machines: a fallback
            warnings.simplefilter("ignore")
            server = pgserver.get_server(data, cleanup_mode="stop")  # type: ignore[attr-defined]
        try:
            outbox = server.get_uri()
            port = free_port()
            sandbox = Sandbox(
                SandboxConfig(
                    verify_latency=1.2,
                    latency_jitter=0.2 / 1.2,
                    seed=13,
                    webhook_url=f"http://127.0.0.1:{port}/pacspace/webhooks",
                    webhook_secret=SECRET,
                )
            )

            def verified_at(record_id: str) -> float:
                row = sandbox.ledger.store.one(
                    "SELECT verify_at FROM deltas WHERE record_id = ?", [record_id]
                )
                assert row is not None
                return float(row["verify_at"])

            with sandbox.serve() as served:
                receiver = serve_process(
                    [sys.executable, "-m", "uvicorn", "tests.stacks.apps.fleet_receiver:app",
                     "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
                    port,
                    env={
                        **os.environ,
                        "PACSPACE_API_KEY": sandbox.api_key,
                        "PACSPACE_API_BASE_URL": served.url,
                        "PACSPACE_TEST_OUTBOX": outbox,
                        "PACSPACE_WEBHOOK_SECRET": SECRET,
                    },
                )  # fmt: skip
                try:
                    polls, lags = asyncio.run(
                        _ours(sandbox.api_key, served.url, outbox, verified_at)
                    )
                finally:
                    receiver.terminate()
                    receiver.wait(10)
                theirs, their_lags = _official_waits(served.url, WAITS, key=sandbox.api_key)
        finally:
            server.cleanup()
    return Row(
        f"{WAITS} concurrent waits, the deliveries received by another process (PostgreSQL "
        "outbox's channel; verify 1.2 s ± 0.2 s)",
        f"{polls:.2f} req/delta, lag p50 {percentile(lags, 0.5):.0f} ms p99 "
        f"{percentile(lags, 0.99):.0f} ms",
        f"{theirs:.2f} req/delta, lag p50 {percentile(their_lags, 0.5):.0f} ms "
        "(pacspace-sdk polls)",
        percentile(their_lags, 0.5) / max(percentile(lags, 0.5), 1.0),
        "<= 0.2 req/delta (ratio: the peer's lag p50 over ours)",
    )


def rows() -> list[Row]:
    return [fleet_waits()]
