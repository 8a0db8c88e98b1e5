"""The sandbox on loopback against the same uvicorn + Starlette stack canned, and its memory."""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys

from ._common import KEY, ROUNDS, free_port, keepalive_rate, sandbox_process, serve_process
from ._table import Row


async def _emit_load(port: int, connections: int, budget: float) -> float:
    """Emits/s a bare keep-alive asyncio client gets from a server on ``port``."""
    body = b'{"customerId":"cust_load","delta":-1.5,"reason":"usage"}'
    request = (
        f"POST /api/v1/balance/delta HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Api-Key: {KEY}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    return await keepalive_rate(port, request, connections, budget, expect=b"HTTP/1.1 201")


def sandbox_throughput() -> Row:
    """The sandbox on loopback (one process, so one core for Python) vs the same stack canned."""
    port, bare_port = free_port(), free_port()
    sandbox, _ = sandbox_process(0.0, 0.0, port)
    bare = serve_process(
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
    per = {}
    for kind in ("sandbox", "dicts"):
        out = subprocess.run(
            [sys.executable, "-m", "benchmarks._sandbox_memory", kind],
            capture_output=True,
            text=True,
            timeout=120,
        )
        per[kind] = float(out.stdout.strip())
    return Row(
        "sandbox memory per stored delta",
        f"{per['sandbox']:,.0f} B (in-memory SQLite)",
        f"{per['dicts']:,.0f} B as Python dicts",
        per["dicts"] / per["sandbox"],
        "(lower is better)",
    )


def rows() -> list[Row]:
    return [sandbox_throughput(), sandbox_memory()]
