"""emit_many against raw aiohttp in CPU instructions per request, counted by valgrind.

On a VM whose speed drifts by tens of percent within a minute, requests per second
compare two clients only roughly; the instructions each one executes per request do not
drift. Each client runs twice under ``valgrind --tool=callgrind`` (the canned server runs
natively beside it), with ``SMALL`` and ``LARGE`` emits: the difference, divided by the
difference in count, is its cost per request, start-up and warm-up left out. Without
valgrind the rows say so. About four minutes on two cores.

The same runs simulate the branch predictor and the caches (``--branch-sim``,
``--cache-sim``): a second row shows mispredicted branches and first-level instruction
cache misses per request. Instructions alone do not say how fast they run; these say why
emit_many trails raw aiohttp by more in time than in instructions (an interpreter running
more varied code mispredicts more, and a miss costs tens of instructions' time).

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
            "--branch-sim=yes",
            "--cache-sim=yes",
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


Events = dict[str, int]
"""Callgrind's totals by event: ``Ir`` instructions, ``Bcm``/``Bim`` mispredicted
conditional/indirect branches, ``I1mr`` first-level instruction cache misses, and more."""


def _collected(process: subprocess.Popen[str], out: str) -> Events:
    _, err = process.communicate(timeout=TIMEOUT)
    if process.returncode != 0:
        raise RuntimeError(f"valgrind run failed: {err[-400:]}")
    with open(out) as profile:
        text = profile.read()
    events = re.search(r"^events: (.+)$", text, re.MULTILINE)
    summary = re.search(r"^summary: (.+)$", text, re.MULTILINE)
    if events is None or summary is None:
        raise RuntimeError(f"no totals in {out}")
    return dict(zip(events.group(1).split(), map(int, summary.group(1).split()), strict=True))


def per_request(client: str, server: CannedServer) -> Events:
    """Events per request of ``client`` (``ours`` or ``raw``); two runs at once."""
    with tempfile.TemporaryDirectory() as scratch:
        runs = {
            n: (out, _count(client, n, server.url, server.ca, out))
            for n in (SMALL, LARGE)
            for out in [os.path.join(scratch, f"{n}.out")]
        }
        small, large = (_collected(process, out) for out, process in runs.values())
        return {k: (large[k] - small[k]) // (LARGE - SMALL) for k in large}


def _missed(events: Events) -> tuple[int, int]:
    """(mispredicted branches, L1 instruction cache misses) per request."""
    return events["Bcm"] + events["Bim"], events["I1mr"]


def rows(server: CannedServer) -> list[Row]:
    name = "emit_many, 64 in flight, aiohttp: CPU instructions per request"
    missed = "the same: mispredicted branches / L1i misses per request (simulated)"
    if shutil.which("valgrind") is None:
        return [
            Row(name, "(valgrind not installed)", "raw aiohttp", float("nan"), ">= 0.9x"),
            Row(missed, "(valgrind not installed)", "raw aiohttp", float("nan"), "(context)"),
        ]
    ours, raw = per_request("ours", server), per_request("raw", server)
    (ours_branches, ours_misses), (raw_branches, raw_misses) = _missed(ours), _missed(raw)
    return [
        Row(
            name,
            f"{ours['Ir'] / 1000:,.0f}k instructions",
            f"{raw['Ir'] / 1000:,.0f}k raw aiohttp",
            raw["Ir"] / ours["Ir"],
            ">= 0.9x",
        ),
        Row(
            missed,
            f"{ours_branches / 1000:,.1f}k / {ours_misses / 1000:,.1f}k",
            f"{raw_branches / 1000:,.1f}k / {raw_misses / 1000:,.1f}k raw aiohttp",
            raw_branches / ours_branches,
            "(context: why time trails instructions)",
        ),
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
