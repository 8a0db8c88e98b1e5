"""What every benchmark shares: the key, the rounds, rates, the canned server, processes."""

from __future__ import annotations

import asyncio
import os
import platform
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import trustme

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


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_process(
    argv: list[str], port: int, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start a loopback server process and wait until it accepts connections."""
    import socket

    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"{argv} did not start")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


async def keepalive_rate(
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


def sandbox_process(
    latency: float, jitter: float, port: int = 0
) -> tuple[subprocess.Popen[bytes], str]:
    port = port or free_port()
    process = serve_process(
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
