"""A serverless function's life, as its platform runs it: one process, built once (the
client at import, as handlers do), then invocations, each metering usage in several
reasons and ending with the documented ``flush_summaries()``; between invocations the
platform freezes the process (the test sends SIGSTOP after each ``done`` line), and after
the last one it reclaims it with SIGKILL, no signal handler run.

``python -m tests.stacks.apps.frozen_invocations INVOCATIONS`` reads ``go`` on stdin
before each invocation and prints ``done N`` after it.
"""

from __future__ import annotations

import os
import sys

from pacspace_sync import PacSpace

pac = PacSpace(
    os.environ["PACSPACE_API_KEY"],
    base_url=os.environ["PACSPACE_API_BASE_URL"],
    submission={"maxRequestsPerMinute": 60_000},  # memory: what a function has
)
meter = pac.balance.meter()


def handler(n: int) -> None:
    for i in range(10):
        meter.add(f"c{i % 3}", "-0.5", reason="compute" if i % 2 else "storage")
    meter.add("c0", -(n + 1), reason="requests")
    pac.balance.flush_summaries()  # the end-of-invocation contract


def main() -> None:
    for n in range(int(sys.argv[1])):
        if sys.stdin.readline().strip() != "go":
            return
        handler(n)
        print(f"done {n}", flush=True)


if __name__ == "__main__":
    main()
