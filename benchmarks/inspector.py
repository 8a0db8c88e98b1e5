"""The API's emit latency while inspector tabs watch a customer with 100,000 deltas.

The sandbox runs in its own process on a file seeded with one customer's 100,000
deltas. Three "tabs" ask for the customer page's live fragment once a second each, as
``inspector.js`` does; the row compares the median emit latency with them open against
none, measured in the same run. Before the inspector read totals incrementally, each
fragment cost 1.2-2.1 s of server CPU and three tabs took an emit from 45 to 810 ms.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from ._common import KEY, free_port, serve_process
from ._table import Row

DELTAS = 100_000
TABS = 3
BUDGET = 4.0
"""Seconds of sequential emits per measurement."""


def _seed(db: str) -> None:
    from pacspace_sandbox import Sandbox

    sandbox = Sandbox(db=db, api_keys=[KEY], verify_latency=0)
    ledger, store = sandbox.ledger, sandbox.ledger.store
    ledger.emit({"customerId": "cust_big", "delta": -1, "reason": "usage"}, None)
    now = time.time()
    with store.transaction():
        store._db.executemany(
            "INSERT INTO deltas (record_id, receipt_id, customer_id, sequence_number, amount,"
            " reason, created_at, verify_at, outcome, content_hash)"
            " VALUES (?,?,?,?,?,?,?,?,?,?)",
            [
                (f"rec_{i}", f"rcp_{i}", "cust_big", i + 2, "-1.5", "usage", now - 9e5 + i,
                 now - 9e5 + i, "VERIFIED", "0" * 64)
                for i in range(DELTAS)
            ],
        )  # fmt: skip
        store.execute(
            "UPDATE customers SET next_sequence = ? WHERE customer_id = 'cust_big'", [DELTAS + 2]
        )
    sandbox.close()


async def _tab(url: str, cookies: httpx.Cookies, stop: asyncio.Event) -> int:
    """One open tab: the live fragment once a second (the first at once)."""
    refreshed = 0
    async with httpx.AsyncClient(base_url=url, cookies=cookies, timeout=30) as http:
        while not stop.is_set():
            answer = await http.get(
                "/customers/cust_big",
                params={"fragment": "activity"},
                headers={"X-Pacspace-CSRF": "1"},
            )
            assert answer.status_code == 200, answer.status_code
            refreshed += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
    return refreshed


async def _latency(url: str, tabs: int) -> tuple[float, int]:
    """Median emit latency (ms) over :data:`BUDGET` s with ``tabs`` tabs open."""
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        login = await http.post(
            "/dashboard/auth/login",
            json={"email": "you@example.com", "password": "your-secure-password"},
        )
        login.raise_for_status()
        stop = asyncio.Event()
        watching = [asyncio.create_task(_tab(url, http.cookies, stop)) for _ in range(tabs)]
        await asyncio.sleep(0.5 if tabs else 0)
        samples = []
        deadline = time.perf_counter() + BUDGET
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            answer = await http.post(
                "/api/v1/balance/delta",
                json={"customerId": "cust_big", "delta": -1, "reason": "usage"},
                headers={"X-Api-Key": KEY},
            )
            assert answer.status_code == 201, answer.text
            samples.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(0.05)
        stop.set()
        refreshed = sum(await asyncio.gather(*watching))
    return statistics.median(samples), refreshed


def rows() -> list[Row]:
    with tempfile.TemporaryDirectory() as folder:
        db = str(Path(folder) / "big.sqlite3")
        _seed(db)
        port = free_port()
        argv = [sys.executable, "-m", "pacspace_cli", "sandbox", "--port", str(port)]
        process = serve_process([*argv, "--db", db, "--api-key", KEY], port)
        url = f"http://127.0.0.1:{port}"
        try:
            idle, _ = asyncio.run(_latency(url, 0))
            watched, refreshed = asyncio.run(_latency(url, TABS))
        finally:
            process.terminate()
            process.wait(10)
    return [
        Row(
            f"emit latency, {TABS} inspector tabs on a customer with {DELTAS:,} deltas",
            f"{watched:.1f} ms median ({refreshed} refreshes)",
            f"{idle:.1f} ms with no tab open",
            idle / watched,
            ">= 0.8x",
        )
    ]


if __name__ == "__main__":
    from ._table import print_table

    print_table(rows())
