"""Waits a fleet shares: one OS process receives the sandbox's signed deliveries on its
ASGI endpoint, another holds 300 waits on the same PostgreSQL outbox, and the deliveries
end them through the outbox's channel with at most 0.2 status polls per delta (once
deliveries flow: a fresh client's first waits scout by polling until the first one). With the
receiver killed (nothing is published any more), new waits still end, by polling."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import anyio
import pytest

from pacspace_async import PacSpace
from pacspace_sandbox import Sandbox, SandboxConfig

from ._servers import PYTHON, Server, free_port, require

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX process groups")

SECRET = "whsec_fleet_waits"
WAITS = 300


def test_a_delivery_received_by_one_process_ends_the_waits_of_another(
    postgres_url: str, tmp_path: Path
) -> None:
    require("uvicorn", "psycopg")
    port = free_port()
    sandbox = Sandbox(
        SandboxConfig(
            verify_latency=1.0,
            latency_jitter=0.1,
            seed=9,
            webhook_url=f"http://127.0.0.1:{port}/pacspace/webhooks",
            webhook_secret=SECRET,
        )
    )
    with sandbox.serve() as served:
        receiver = Server(
            [PYTHON, "-m", "uvicorn", "tests.stacks.apps.fleet_receiver:app",
             "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
            {
                "PACSPACE_API_KEY": sandbox.api_key,
                "PACSPACE_API_BASE_URL": served.url,
                "PACSPACE_TEST_OUTBOX": postgres_url,
                "PACSPACE_WEBHOOK_SECRET": SECRET,
            },
            port,
            tmp_path / "receiver.log",
        )  # fmt: skip
        try:
            receiver.wait_ready()
            polls_fed, polls_cut = anyio.run(
                waits, sandbox.api_key, served.url, postgres_url, receiver
            )
        finally:
            printed = receiver.stop(signal.SIGKILL) if receiver.process.poll() is None else ""
    assert "Traceback" not in printed, printed
    assert polls_fed <= 0.2, f"{polls_fed:.2f} status polls per delta with deliveries shared"
    assert polls_cut >= 1.0  # the channel cut: every wait ended by polling


async def waits(key: str, url: str, outbox: str, receiver: Server) -> tuple[float, float]:
    async with PacSpace(
        key, base_url=url, submission={"outbox": outbox, "autoStart": False}
    ) as pac:

        async def burst(tag: str, count: int) -> float:
            before = pac._waiter.status_requests
            statuses: list[str] = []

            async def one(i: int) -> None:
                status = await pac.balance.emit_and_wait(
                    f"cust_{i % 7}", -1, "usage", reference_id=f"{tag}{i}", timeout=30
                )
                statuses.append(status.status)

            async with anyio.create_task_group() as tasks:
                for i in range(count):
                    tasks.start_soon(one, i)
            assert statuses == ["VERIFIED"] * count
            return (pac._waiter.status_requests - before) / count

        # A fresh client polls its first waits (scouts) until the first delivery arrives;
        # a fleet in service has deliveries flowing. Then the 300 are measured.
        await burst("warm", 20)
        fed = await burst("fed", WAITS)
        assert pac._deliveries is not None and pac._deliveries.received >= WAITS * 0.9
        receiver.process.send_signal(signal.SIGKILL)  # the receiver dies: nothing published
        receiver.process.wait(10)
        cut = await burst("cut", 30)
        return fed, cut
