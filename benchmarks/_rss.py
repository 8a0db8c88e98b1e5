"""The resident set of this process now (not its high-water mark, which start-up set)."""

from __future__ import annotations

import gc
import os

__all__ = ["rss"]


def rss() -> int:
    gc.collect()
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
