"""All benchmarks, one table: ``python -m benchmarks.run``.

Every row is measured against a peer in the same run, on this machine, over 127.0.0.1
only; every loop is bounded in count and in time, and the run stops by itself. Figures
are never asserted in tests.
"""

from __future__ import annotations

import asyncio
import os
import platform
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import trustme

from . import summaries
from ._row import Row

KEY = "pk_test_BENCH.SECRET"
ROUNDS = 3
"""Each row interleaves ours and the peer this many times and reports medians."""


def machine() -> str:
    return (
        f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()} "
        f"({platform.python_implementation()}), {platform.system()} {platform.release()}"
    )


class CannedServer:
    """The canned HTTPS server in its own process (so it does not share our GIL)."""

    def __init__(self) -> None:
        self.dir = tempfile.TemporaryDirectory()
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        base = Path(self.dir.name)
        ca.cert_pem.write_to_path(str(base / "ca.pem"))
        cert.private_key_pem.write_to_path(str(base / "key.pem"))
        cert.cert_chain_pems[0].write_to_path(str(base / "cert.pem"))
        self.ca = str(base / "ca.pem")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "benchmarks._canned",
                str(base / "cert.pem"),
                str(base / "key.pem"),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.url = f"https://127.0.0.1:{self.process.stdout.readline().strip()}"

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(10)
        self.dir.cleanup()


def rate(call: Callable[[], object], count: int, budget: float) -> float:
    """Calls per second of ``call`` run sequentially, at most ``count`` times or ``budget`` s."""
    call()  # warm up (connections, imports)
    started = time.perf_counter()
    done = 0
    while done < count and time.perf_counter() - started < budget:
        call()
        done += 1
    return done / (time.perf_counter() - started)


async def arate(call: Callable[[], Awaitable[object]], count: int, budget: float) -> float:
    await call()
    started = time.perf_counter()
    done = 0
    while done < count and time.perf_counter() - started < budget:
        await call()
        done += 1
    return done / (time.perf_counter() - started)


def sync_overhead() -> Row:
    """The facade's cost per call: the same call, sync vs async, on an in-process transport."""
    import pacspace_async
    import pacspace_sync

    answer = httpx.Response(200, json={"success": True, "data": {"used": 1}})

    async def handler(request: httpx.Request) -> httpx.Response:
        return answer

    async def async_side() -> float:
        http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
        async with pacspace_async.PacSpace(
            KEY, base_url="https://bench.test", http_client=http
        ) as pac:
            return await arate(pac.balance.usage, 20_000, 1.5)

    samples_async, samples_sync = [], []
    for _ in range(ROUNDS):
        samples_async.append(1e6 / asyncio.run(async_side()))
        http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
        with pacspace_sync.PacSpace(KEY, base_url="https://bench.test", http_client=http) as pac:
            samples_sync.append(1e6 / rate(pac.balance.usage, 20_000, 1.5))
    a, s = statistics.median(samples_async), statistics.median(samples_sync)
    return Row(
        "sync facade overhead per call (in-process)",
        f"{s:.0f} µs/call",
        f"{a:.0f} µs/call async",
        a / s,
        f"overhead {s - a:.0f} µs (aim <= 100)",
    )


CONCURRENT = 3000
"""Emits per concurrent measurement (64 in flight)."""


async def _emit_many(url: str, backend: str) -> float:
    import pacspace_async

    async with pacspace_async.PacSpace(KEY, base_url=url, http_backend=backend) as pac:
        items = [{"customerId": "cust_bench", "delta": -1, "reason": "usage"}] * CONCURRENT
        await pac.balance.emit_many(items[:200], concurrency=64)  # warm the pool
        started = time.perf_counter()
        results = await pac.balance.emit_many(items, concurrency=64)
        elapsed = time.perf_counter() - started
    assert all(not isinstance(r, Exception) for r in results)
    return CONCURRENT / elapsed


async def _raw_aiohttp(url: str, ca: str) -> float:
    import aiohttp

    context = ssl.create_default_context(cafile=ca)
    body = b'{"customerId":"cust_bench","delta":-1,"reason":"usage"}'
    headers = {"X-Api-Key": KEY, "Content-Type": "application/json"}
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=64, ssl=context)
    ) as session:
        slots = asyncio.Semaphore(64)

        async def one() -> None:
            async with (
                slots,
                session.post(f"{url}/api/v1/balance/delta", data=body, headers=headers) as response,
            ):
                await response.read()

        await asyncio.gather(*(one() for _ in range(200)))
        started = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(CONCURRENT)))
        return CONCURRENT / (time.perf_counter() - started)


async def _raw_httpx(url: str) -> float:
    body = b'{"customerId":"cust_bench","delta":-1,"reason":"usage"}'
    headers = {"X-Api-Key": KEY, "Content-Type": "application/json"}
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(limits=limits) as client:
        slots = asyncio.Semaphore(64)

        async def one() -> None:
            async with slots:
                await client.post(f"{url}/api/v1/balance/delta", content=body, headers=headers)

        await asyncio.gather(*(one() for _ in range(200)))
        started = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(CONCURRENT)))
        return CONCURRENT / (time.perf_counter() - started)


def concurrent_emits(server: CannedServer) -> list[Row]:
    raw_aiohttp, raw_httpx, ours_aiohttp, ours_httpx, ours_auto = [], [], [], [], []
    for _ in range(ROUNDS):
        raw_aiohttp.append(asyncio.run(_raw_aiohttp(server.url, server.ca)))
        ours_aiohttp.append(asyncio.run(_emit_many(server.url, "aiohttp")))
        raw_httpx.append(asyncio.run(_raw_httpx(server.url)))
        ours_httpx.append(asyncio.run(_emit_many(server.url, "httpx")))
        ours_auto.append(asyncio.run(_emit_many(server.url, "auto")))
    ra, rh = statistics.median(raw_aiohttp), statistics.median(raw_httpx)
    oa, oh = statistics.median(ours_aiohttp), statistics.median(ours_httpx)
    auto = statistics.median(ours_auto)
    return [
        Row(
            "emit_many, 64 in flight, default install (auto)",
            f"{auto:,.0f}/s",
            f"{oh:,.0f}/s our httpx backend",
            auto / oh,
            ">= 3x",
        ),
        Row(
            "emit_many, 64 in flight, aiohttp backend",
            f"{oa:,.0f}/s",
            f"{ra:,.0f}/s raw aiohttp",
            oa / ra,
            ">= 0.6x",
        ),
        Row(
            "emit_many, 64 in flight, httpx backend",
            f"{oh:,.0f}/s",
            f"{rh:,.0f}/s raw httpx",
            oh / rh,
            "(context)",
        ),
    ]


def handoff_floor() -> Row:
    """What one cross-thread round trip costs here, whatever the design: the facade's floor."""
    import threading

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def noop() -> None:
        return None

    direct = 1e6 / rate(
        lambda: asyncio.run_coroutine_threadsafe(noop(), loop).result(), 20_000, 1.5
    )
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    return Row(
        "bare thread hand-off (no SDK)",
        f"{direct:.0f} µs/round trip",
        "(context for the row above)",
        1.0,
        "the floor of any loop-thread facade",
    )


def sequential_sync_emits(server: CannedServer) -> Row:
    import pacspace_sdk

    import pacspace_sync

    official = pacspace_sdk.PacSpace(KEY, base_url=server.url)
    ours_samples, theirs_samples = [], []
    with pacspace_sync.PacSpace(KEY, base_url=server.url) as pac:
        for _ in range(5):  # interleaved, so a noisy moment hits both
            theirs_samples.append(
                rate(lambda: official.balance.emit("cust_bench", -1, "usage"), 300, 1.5)
            )
            ours_samples.append(
                rate(lambda: pac.balance.emit("cust_bench", -1, "usage"), 3000, 1.5)
            )
    ours, theirs = statistics.median(ours_samples), statistics.median(theirs_samples)
    return Row(
        "sequential sync emits/s (HTTPS loopback)",
        f"{ours:,.0f}/s pacspace_sync",
        f"{theirs:,.0f}/s pacspace-sdk 0.7.0",
        ours / theirs,
        ">= 3x",
    )


async def _keepalive_rate(
    port: int,
    request: bytes,
    connections: int,
    budget: float,
    context: ssl.SSLContext | None = None,
    expect: bytes = b"HTTP/1.1 2",
) -> float:
    """Requests/s that ``connections`` bare keep-alive asyncio clients get from 127.0.0.1:``port``."""
    done = 0
    deadline = time.perf_counter() + budget

    async def worker() -> None:
        nonlocal done
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
        while time.perf_counter() < deadline:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(expect), head[:40]
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
            done += 1
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    return done / (time.perf_counter() - started)


async def _raw_rate(url: str, ca: str, connections: int, budget: float) -> float:
    """Requests/s a bare asyncio client gets from the canned server: its headroom."""
    port = int(url.rsplit(":", 1)[1])
    request = (
        b"POST /api/v1/balance/delta HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
    )
    return await _keepalive_rate(
        port, request, connections, budget, ssl.create_default_context(cafile=ca)
    )


def server_headroom(server: CannedServer) -> Row:
    raw = asyncio.run(_raw_rate(server.url, server.ca, 16, 2.0))
    return Row(
        "canned HTTPS server headroom",
        f"{raw:,.0f} req/s bare asyncio client",
        "(the server, not a client)",
        1.0,
        "well above any client row",
    )


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
        row = sandbox.ledger.store.one(
            "SELECT verify_at FROM deltas WHERE record_id = ?", [record_id]
        )
        lags.append((moment - row["verify_at"]) * 1000)
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


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(argv: list[str], port: int) -> subprocess.Popen[bytes]:
    """Start a loopback server process and wait until it accepts connections."""
    import socket

    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"{argv} did not start")


async def _emit_load(port: int, connections: int, budget: float) -> float:
    """Emits/s a bare keep-alive asyncio client gets from a server on ``port``."""
    body = b'{"customerId":"cust_load","delta":-1.5,"reason":"usage"}'
    request = (
        f"POST /api/v1/balance/delta HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Api-Key: {KEY}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    return await _keepalive_rate(port, request, connections, budget, expect=b"HTTP/1.1 201")


def sandbox_throughput() -> Row:
    """The sandbox on loopback (one process, so one core for Python) vs the same stack canned."""
    port, bare_port = _free_port(), _free_port()
    sandbox, _ = _sandbox_process(0.0, 0.0, port)
    bare = _serve(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "benchmarks._bare_app:app",
            "--port",
            str(bare_port),
            "--log-level",
            "warning",
            "--lifespan",
            "off",
        ],
        bare_port,
    )
    try:
        ours, theirs = [], []
        for _ in range(ROUNDS):
            ours.append(asyncio.run(_emit_load(port, 16, 1.5)))
            theirs.append(asyncio.run(_emit_load(bare_port, 16, 1.5)))
    finally:
        for process in (sandbox, bare):
            process.terminate()
            process.wait(10)
    o, t = statistics.median(ours), statistics.median(theirs)
    return Row(
        "sandbox emits served/s (loopback, 16 connections)",
        f"{o:,.0f}/s pacspace sandbox",
        f"{t:,.0f}/s uvicorn+Starlette canned",
        o / t,
        ">= 1,500/s",
    )


def sandbox_memory() -> Row:
    """Memory per stored delta (in-memory SQLite), against the same rows as Python dicts."""
    code = """
import gc, os, sys, time
from decimal import Decimal
def rss():  # current resident set, not the high-water mark start-up already set
    gc.collect()
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
n = 20_000
before = rss()
if sys.argv[1] == "sandbox":
    from pacspace_sandbox import Ledger, SandboxConfig
    ledger = Ledger(SandboxConfig(verify_latency=0))
    before = rss()
    for i in range(n):
        ledger.emit({"customerId": f"cust_{i % 100}", "delta": Decimal("-1.5"), "reason": "usage",
                     "referenceId": f"ref_{i}", "metadata": {"units": i}}, None)
else:
    rows = [{"recordId": f"r_{i:016x}", "receiptId": f"rcpt_{i:012x}", "customerId": f"cust_{i % 100}",
             "delta": Decimal("-1.5"), "reason": "usage", "referenceId": f"ref_{i}", "metadata": {"units": i},
             "createdAt": time.time(), "verifyAt": time.time(), "outcome": "VERIFIED", "sequence": i,
             "contentHash": "0x" + "ab" * 32} for i in range(n)]
print((rss() - before) / n)
"""
    per = {}
    for kind in ("sandbox", "dicts"):
        out = subprocess.run(
            [sys.executable, "-c", code, kind], capture_output=True, text=True, timeout=120
        )
        per[kind] = float(out.stdout.strip())
    return Row(
        "sandbox memory per stored delta",
        f"{per['sandbox']:,.0f} B (in-memory SQLite)",
        f"{per['dicts']:,.0f} B as Python dicts",
        per["dicts"] / per["sandbox"],
        "(lower is better)",
    )


def _sandbox_process(
    latency: float, jitter: float, port: int = 0
) -> tuple[subprocess.Popen[bytes], str]:
    port = port or _free_port()
    process = _serve(
        [
            sys.executable,
            "-m",
            "pacspace_cli",
            "sandbox",
            "--port",
            str(port),
            "--api-key",
            KEY,
            "--verify-latency",
            str(latency),
            "--latency-jitter",
            str(jitter),
        ],
        port,
    )
    return process, f"http://127.0.0.1:{port}"


def _lag_ms(verified_at: str | None, seen: float) -> float:
    from datetime import datetime

    assert verified_at, "a wait ended without a verification time"
    return (seen - datetime.fromisoformat(verified_at.replace("Z", "+00:00")).timestamp()) * 1000


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


async def _our_waits(url: str, count: int) -> tuple[float, list[float]]:
    import pacspace_async

    async with pacspace_async.PacSpace(KEY, base_url=url, http_backend="aiohttp") as pac:

        async def one(i: int) -> float:
            result = await pac.balance.emit_and_wait(f"cust_{i % 100}", -1, "usage", timeout=30)
            return _lag_ms(result.verified_at, time.time())

        await asyncio.gather(*(one(i) for i in range(50)))  # warm up: the client learns
        before = pac.balance._waiter.status_requests
        lags = await asyncio.gather(*(one(i) for i in range(count)))
        return (pac.balance._waiter.status_requests - before) / count, list(lags)


def _official_waits(url: str, count: int) -> tuple[float, list[float]]:
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

    client = pacspace_sdk.PacSpace(KEY, base_url=url, transport=counting)
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


def waits_vs_official() -> Row:
    process, url = _sandbox_process(1.2, 0.2 / 1.2)
    try:
        ours_requests, ours_lags = asyncio.run(_our_waits(url, 1000))
        theirs_requests, theirs_lags = _official_waits(url, 1000)
    finally:
        process.terminate()
        process.wait(10)
    return Row(
        "1,000 concurrent waits (loopback, verify 1.2 s ± 0.2 s)",
        f"{ours_requests:.2f} req/delta, lag p50 {_percentile(ours_lags, 0.5):.0f} ms p99 {_percentile(ours_lags, 0.99):.0f} ms",
        f"{theirs_requests:.2f} req/delta, lag p50 {_percentile(theirs_lags, 0.5):.0f} ms p99 {_percentile(theirs_lags, 0.99):.0f} ms (pacspace-sdk, 1,000 threads)",
        theirs_requests / ours_requests,
        "<= 2.0 req/delta, p50 <= 200 ms",
    )


def waits_memory() -> Row:
    """Client RSS holding 10,000 concurrent waits (the server never verifies in time)."""
    process, url = _sandbox_process(60.0, 0.0)
    code = f"""
import asyncio, gc, os, sys
def rss():
    gc.collect()
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
import pacspace_async
async def main():
    async with pacspace_async.PacSpace({KEY!r}, base_url={url!r}, http_backend="aiohttp") as pac:
        await pac.balance.usage()
        idle = rss()
        items = [{{"customerId": f"cust_{{i % 100}}", "delta": -1, "reason": "usage"}} for i in range(10_000)]
        records = [r.record_id for r in await pac.balance.emit_many(items, concurrency=64)]
        del items
        waits = [asyncio.ensure_future(pac.balance.wait_for_verified(r, timeout=120)) for r in records]
        while pac.balance._waiter.pending < len(records):
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.5)  # the first status checks are out
        print(idle, rss(), pac.balance._waiter.pending, flush=True)
        for w in waits:
            w.cancel()
        await asyncio.gather(*waits, return_exceptions=True)
asyncio.run(main())
"""
    try:
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=180
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


def main() -> None:
    print(f"machine: {machine()}")
    server = CannedServer()
    os.environ["SSL_CERT_FILE"] = server.ca  # both clients trust the benchmark CA
    rows: list[Row] = []
    try:
        rows.append(server_headroom(server))
        rows.append(sequential_sync_emits(server))
        rows.extend(concurrent_emits(server))
        rows.append(sync_overhead())
        rows.append(handoff_floor())
        rows.append(webhook_waits())
        rows.append(waits_vs_official())
        rows.append(waits_memory())
        rows.append(sandbox_throughput())
        rows.append(sandbox_memory())
        rows.extend(summaries.rows())
    finally:
        server.close()
    widths = [max(len(getattr(r, f)) for r in rows) for f in ("name", "ours", "peer")]
    header = f"{'benchmark':<{widths[0]}}  {'ours':<{widths[1]}}  {'peer':<{widths[2]}}  {'ratio':>7}  aim"
    print(header)
    print("-" * len(header))
    for r in rows:
        ratio = "   n/a " if r.ratio == float("inf") else f"{r.ratio:>6.2f}x"
        print(
            f"{r.name:<{widths[0]}}  {r.ours:<{widths[1]}}  {r.peer:<{widths[2]}}  {ratio}  {r.aim}"
        )


if __name__ == "__main__":
    main()
