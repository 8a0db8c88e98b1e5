"""Waiting for verification: fed by webhooks, polling against pacspace-sdk, and memory."""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import time
from typing import Any

import httpx

from ._common import KEY, percentile, sandbox_process
from ._table import Row


async def _waits(deliveries: bool, count: int) -> tuple[float, float, float]:
    """``count`` concurrent emit_and_wait on an in-process sandbox verifying after
    1.2 s ± 0.2 s; returns (status requests per delta, lag p50 ms, lag p99 ms), where lag
    is when the client saw the outcome minus when the server verified."""
    import hmac  # noqa: F401 - keeps the import cost out of the measurement

    import pacspace_async
    from pacspace_sandbox import IN_PROCESS_URL, Sandbox, SandboxConfig

    holder: dict[str, pacspace_async.PacSpace] = {}

    async def receive(request: httpx.Request) -> httpx.Response:
        hooks = holder["pac"].webhooks
        assert hooks is not None
        hooks.verify_from_headers(request.headers, request.content)
        return httpx.Response(204)

    secret = "whsec_bench"
    sandbox = Sandbox(
        SandboxConfig(
            verify_latency=1.2,
            latency_jitter=0.2 / 1.2,
            seed=11,
            webhook_url="http://hooks.bench/in" if deliveries else None,
            webhook_secret=secret if deliveries else None,
            webhook_transport=httpx.MockTransport(receive),
        )
    )
    http = httpx.AsyncClient(transport=sandbox.transport())
    pac = pacspace_async.PacSpace(
        sandbox.api_key,
        base_url=IN_PROCESS_URL,
        http_client=http,
        webhook_secret=secret if deliveries else None,
    )
    holder["pac"] = pac
    waiter = pac.balance._waiter
    seen: dict[str, float] = {}

    async def one(i: int) -> None:
        result = await pac.balance.emit_and_wait(f"cust_{i % 50}", -1, "usage", timeout=30)
        seen[result.record_id or ""] = time.time()

    await asyncio.gather(*(one(i) for i in range(20)))  # warm up: the client learns
    before, seen = waiter.status_requests, {}
    await asyncio.gather(*(one(i) for i in range(count)))
    requests = (waiter.status_requests - before) / count
    lags = []
    for record_id, moment in seen.items():
        verify_at = sandbox.ledger.store.scalar(
            "SELECT verify_at FROM deltas WHERE record_id = ?", [record_id]
        )
        lags.append((moment - verify_at) * 1000)
    await pac.aclose()
    await http.aclose()
    await sandbox.aclose()
    lags.sort()
    return requests, lags[len(lags) // 2], lags[int(len(lags) * 0.99) - 1]


def webhook_waits() -> Row:
    polled = asyncio.run(_waits(False, 300))
    fed = asyncio.run(_waits(True, 300))
    return Row(
        "waits fed by webhooks (300 concurrent, in-process)",
        f"{fed[0]:.2f} req/delta, lag p50 {fed[1]:.0f} ms p99 {fed[2]:.0f} ms",
        f"{polled[0]:.2f} req/delta, lag p50 {polled[1]:.0f} ms (polling only)",
        polled[0] / fed[0] if fed[0] else float("inf"),
        "<= 0.2 req/delta, p50 <= 50 ms",
    )


def _lag_ms(verified_at: str | None, seen: float) -> float:
    from datetime import datetime

    assert verified_at, "a wait ended without a verification time"
    return (seen - datetime.fromisoformat(verified_at.replace("Z", "+00:00")).timestamp()) * 1000


Burst = tuple[float, list[float]]
"""Status requests per delta, and each delta's lag (ms) from verified to seen."""


class _StatusOnly(httpx.AsyncBaseTransport):
    """The sandbox as a service whose status answers carry no timestamps (the product's
    docs do not promise them): they are taken out, and kept aside to measure the lag."""

    def __init__(self) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self.verified: dict[str, str] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        if request.method != "GET" or "/api/v1/balance/delta/" not in request.url.path:
            return response
        answer = json.loads(await response.aread())
        data = answer.get("data") or {}
        if data.get("verifiedAt"):
            self.verified[data["recordId"]] = data["verifiedAt"]
        for name in ("createdAt", "verifiedAt", "failedAt"):
            data.pop(name, None)
        return httpx.Response(response.status_code, json=answer)

    async def aclose(self) -> None:
        await self._inner.aclose()


async def _our_waits(
    url: str, count: int, cap: int = 32, *, status_only: bool = False, warm: int = 1
) -> tuple[Burst, list[Burst]]:
    """``count`` concurrent ``emit_and_wait`` on a fresh client (cold: nothing learnt),
    then ``warm`` times ``count`` more on the same client; ``status_only``: against a
    service without timestamps (httpx, to take them out)."""
    import pacspace_async

    stripping = _StatusOnly() if status_only else None
    backend: dict[str, Any] = (
        {"http_client": httpx.AsyncClient(transport=stripping, timeout=30)}
        if stripping
        else {"http_backend": "aiohttp"}
    )
    async with pacspace_async.PacSpace(
        KEY, base_url=url, max_status_requests=cap, **backend
    ) as pac:

        async def one(i: int) -> float:
            result = await pac.balance.emit_and_wait(f"cust_{i % 100}", -1, "usage", timeout=30)
            seen = time.time()
            if stripping is not None:
                assert result.verified_at is None, "the timestamps were not taken out"
                return _lag_ms(stripping.verified.get(result.record_id or ""), seen)
            return _lag_ms(result.verified_at, seen)

        async def burst() -> Burst:
            before = pac.balance._waiter.status_requests
            lags = await asyncio.gather(*(one(i) for i in range(count)))
            return (pac.balance._waiter.status_requests - before) / count, list(lags)

        cold = await burst()
        return cold, [await burst() for _ in range(warm)]


def _official_waits(url: str, count: int, key: str = KEY) -> tuple[float, list[float]]:
    import threading

    import pacspace_sdk
    from pacspace_sdk.client import default_transport

    status_requests = 0
    lock = threading.Lock()

    def counting(
        method: str, target: str, headers: dict[str, str], body: str | None, timeout: int
    ) -> Any:
        nonlocal status_requests
        if method == "GET" and "/api/v1/balance/delta/" in target:
            with lock:
                status_requests += 1
        return default_transport(method, target, headers, body, timeout)

    client = pacspace_sdk.PacSpace(key, base_url=url, transport=counting)
    lags: list[float] = []

    def one(i: int) -> None:
        result = client.balance.emit_and_wait(f"cust_{i % 100}", -1, "usage", {"timeout": 30_000})
        with lock:
            lags.append(_lag_ms(result.get("verifiedAt"), time.time()))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return status_requests / count, lags


def _figures(bursts: list[Burst]) -> str:
    """The median of each figure over ``bursts``, and the spread of the lag's median."""
    polls = statistics.median(requests for requests, _ in bursts)
    p50s = sorted(percentile(lags, 0.5) for _, lags in bursts)
    p99 = statistics.median(percentile(lags, 0.99) for _, lags in bursts)
    spread = f" ({len(bursts)} bursts: {p50s[0]:.0f}-{p50s[-1]:.0f})" if len(bursts) > 1 else ""
    return (
        f"{polls:.2f} req/delta, lag p50 {statistics.median(p50s):.0f} ms{spread} p99 {p99:.0f} ms"
    )


BURSTS = 3
"""Fresh clients per run: a cold start either learns early or late (see
``benchmarks.schedules``), so one burst alone is a coin toss; the row shows medians."""


WARM_BURSTS = 4
"""Warm bursts per client against the service without timestamps: a schedule that learnt
from censored checks drifted later with each one."""
BARE_WAITS = 300
"""Waits per burst there: through httpx (to take the timestamps out) 1,000 at once are
bound by the client's throughput on two cores, not by the schedule."""


def waits_vs_official() -> list[Row]:
    process, url = sandbox_process(1.2, 0.2 / 1.2)
    try:
        pairs = [asyncio.run(_our_waits(url, 1000)) for _ in range(BURSTS)]
        bare = [
            asyncio.run(_our_waits(url, BARE_WAITS, status_only=True, warm=WARM_BURSTS))
            for _ in range(BURSTS)
        ]
        theirs = _official_waits(url, 1000)
    finally:
        process.terminate()
        process.wait(10)
    cold, warm = [pair[0] for pair in pairs], [pair[1][0] for pair in pairs]
    bare_cold = [pair[0] for pair in bare]
    bare_warm = [burst for pair in bare for burst in pair[1]]
    peer = f"{_figures([theirs])} (pacspace-sdk, 1,000 threads)"
    return [
        Row(
            f"1,000 concurrent waits, fresh client, median of {BURSTS} "
            "(loopback, verify 1.2 s ± 0.2 s)",
            _figures(cold),
            peer,
            theirs[0] / statistics.median(requests for requests, _ in cold),
            "<= 1.5 req/delta, p50 <= 150 ms",
        ),
        Row(
            "the same 1,000 again on that client (warm)",
            _figures(warm),
            peer,
            theirs[0] / statistics.median(requests for requests, _ in warm),
            "<= 1.3 req/delta, p50 <= 150 ms",
        ),
        Row(
            f"{BARE_WAITS} concurrent waits, service without timestamps (httpx), fresh client, "
            f"median of {BURSTS}",
            _figures(bare_cold),
            peer,
            theirs[0] / statistics.median(requests for requests, _ in bare_cold),
            "<= 1.5 req/delta, p50 <= 150 ms",
        ),
        Row(
            f"then {WARM_BURSTS} bursts more on that client (warm; no drift: every burst's "
            "p50 within the range)",
            _figures(bare_warm),
            peer,
            theirs[0] / statistics.median(requests for requests, _ in bare_warm),
            "<= 1.3 req/delta, p50 <= 150 ms",
        ),
    ]


def waits_memory() -> Row:
    """Client RSS holding 10,000 concurrent waits (the server never verifies in time)."""
    process, url = sandbox_process(60.0, 0.0)
    try:
        out = subprocess.run(
            [sys.executable, "-m", "benchmarks._waits_memory", KEY, url],
            capture_output=True,
            text=True,
            timeout=180,
        )
    finally:
        process.terminate()
        process.wait(10)
    idle, busy, pending = (int(x) for x in out.stdout.split())
    assert pending == 10_000, out.stderr
    return Row(
        "client RSS with 10,000 concurrent waits",
        f"{busy / 2**20:.0f} MB",
        f"{idle / 2**20:.0f} MB the same client idle",
        busy / idle,
        "<= 100 MB",
    )


def rows() -> list[Row]:
    return [webhook_waits(), *waits_vs_official(), waits_memory()]
