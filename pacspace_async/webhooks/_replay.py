"""Replay protection: remember recent event ids so handlers can stay idempotent.

PacSpace retries deliveries, so the same event may arrive twice. A replay store flags
a redelivered ``X-Event-ID`` (``event.redelivered``); it does not reject it, because the
first delivery's handler may have failed. The default keeps the last ``max_size`` ids
in memory; anything with ``seen(event_id) -> bool`` (check and remember, atomically)
can replace it, a Redis ``SET NX`` for a fleet, say.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Protocol

__all__ = ["MemoryReplayStore", "ReplayStore"]


class ReplayStore(Protocol):
    def seen(self, event_id: str) -> bool:
        """Whether ``event_id`` was seen before; remembers it either way."""
        ...


class MemoryReplayStore:
    def __init__(self, max_size: int = 10_000) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._max = max_size
        self._lock = threading.Lock()

    def seen(self, event_id: str) -> bool:
        with self._lock:
            if event_id in self._ids:
                self._ids.move_to_end(event_id)
                return True
            self._ids[event_id] = None
            if len(self._ids) > self._max:
                self._ids.popitem(last=False)
            return False
