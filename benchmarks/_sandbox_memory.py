"""``python -m benchmarks._sandbox_memory sandbox|dicts``: bytes per stored delta, printed.

Run in a process of its own, so nothing else the benchmarks hold is counted.
"""

from __future__ import annotations

import sys
import time
from decimal import Decimal
from typing import Any

from ._rss import rss

COUNT = 20_000


def main(kind: str) -> float:
    before = rss()
    kept: Any
    if kind == "sandbox":
        from pacspace_sandbox import Ledger, SandboxConfig

        kept = Ledger(SandboxConfig(verify_latency=0))
        before = rss()
        for i in range(COUNT):
            item = {
                "customerId": f"cust_{i % 100}",
                "delta": Decimal("-1.5"),
                "reason": "usage",
                "referenceId": f"ref_{i}",
                "metadata": {"units": i},
            }
            kept.emit(item, None)
    else:
        kept = [
            {
                "recordId": f"r_{i:016x}",
                "receiptId": f"rcpt_{i:012x}",
                "customerId": f"cust_{i % 100}",
                "delta": Decimal("-1.5"),
                "reason": "usage",
                "referenceId": f"ref_{i}",
                "metadata": {"units": i},
                "createdAt": time.time(),
                "verifyAt": time.time(),
                "outcome": "VERIFIED",
                "sequence": i,
                "contentHash": "0x" + "ab" * 32,
            }
            for i in range(COUNT)
        ]
    per = (rss() - before) / COUNT
    del kept
    return per


if __name__ == "__main__":
    print(main(sys.argv[1]))
