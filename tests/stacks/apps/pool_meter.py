"""A script that meters usage in a ``multiprocessing`` pool forked from a process whose
blocking client was built first, as batch jobs do: ``python -m
tests.stacks.apps.pool_meter OUTBOX|memory``. The pool's processes exit with ``os._exit``
(no ``atexit``); the parent closes its client last."""

from __future__ import annotations

import multiprocessing
import os
import sys

from pacspace_sync import PacSpace

outbox = sys.argv[1]
pac = PacSpace(
    os.environ["PACSPACE_API_KEY"],
    base_url=os.environ["PACSPACE_API_BASE_URL"],
    submission={
        **({} if outbox == "memory" else {"outbox": outbox}),
        "journalIntervalMs": 50,
        "maxRequestsPerMinute": 60_000,
    },
)
meter = pac.balance.meter()
meter.add("parent", -1)


def work(n: int) -> int:
    meter.add(f"c{n % 3}", "-0.5", reason="compute" if n % 2 else "storage")
    return os.getpid()


if __name__ == "__main__":
    with multiprocessing.get_context("fork").Pool(3) as pool:
        pids = set(pool.map(work, range(60), chunksize=5))
        pool.close()
        pool.join()
    print(len(pids), flush=True)
    pac.close()
