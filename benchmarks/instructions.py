"""emit_many against raw aiohttp in CPU instructions per request, counted by valgrind.

On a VM whose speed drifts by tens of percent within a minute, requests per second
compare two clients only roughly; the instructions each one executes per request do not
drift. Each client runs twice under ``valgrind --tool=callgrind`` (the canned server runs
natively beside it), with ``SMALL`` and ``LARGE`` emits: the difference, divided by the
difference in count, is its cost per request, start-up and warm-up left out. Without
valgrind the row says so. About a minute and a half on two cores.

    python -m benchmarks.instructions          # one row, against the canned HTTPS server
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile

from ._common import CannedServer
from ._table import Row, print_table

SMALL, LARGE = 300, 1300
"""Emits per run (after 200 to warm the pool): the larger minus the smaller is measured."""
TIMEOUT = 600
"""Seconds any one run under valgrind may take."""


def _count(client: str, count: int, url: str, ca: str, out: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={out}",
            "--trace-children=no",
            sys.executable,
            "-m",
            "benchmarks.instructions",
            client,
            str(count),
            url,
            ca,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _collected(process: subprocess.Popen[str]) -> int:
    _, err = process.communicate(timeout=TIMEOUT)
    found = re.search(r"Collected : (\d+)", err)
    if process.returncode != 0 or found is None:
        raise RuntimeError(f"valgrind run failed: {err[-400:]}")
    return int(found.group(1))


def per_request(client: str, server: CannedServer) -> float:
    """Instructions per request of ``client`` (``ours`` or ``raw``); two runs at once."""
    with tempfile.TemporaryDirectory() as scratch:
        small, large = (
            _count(client, n, server.url, server.ca, os.path.join(scratch, f"{n}.out"))
            for n in (SMALL, LARGE)
        )
        return (_collected(large) - _collected(small)) / (LARGE - SMALL)


def rows(server: CannedServer) -> list[Row]:
    name = "emit_many, 64 in flight, aiohttp: CPU instructions per request"
    if shutil.which("valgrind") is None:
        return [Row(name, "(valgrind not installed)", "raw aiohttp", float("nan"), ">= 0.9x")]
    ours, raw = per_request("ours", server), per_request("raw", server)
    return [
        Row(
            name,
            f"{ours / 1000:,.0f}k instructions",
            f"{raw / 1000:,.0f}k raw aiohttp",
            raw / ours,
            ">= 0.9x",
        )
    ]


def _client(client: str, count: int, url: str, ca: str) -> None:
    """One measured run (in the process valgrind watches)."""
    from . import emits

    os.environ["SSL_CERT_FILE"] = ca
    if client == "ours":
        asyncio.run(emits._emit_many(url, "aiohttp", count))
    else:
        asyncio.run(emits._raw_aiohttp(url, ca, count))


if __name__ == "__main__":
    if len(sys.argv) == 5:
        _client(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4])
    else:
        canned = CannedServer()
        try:
            print_table(rows(canned))
        finally:
            canned.close()
