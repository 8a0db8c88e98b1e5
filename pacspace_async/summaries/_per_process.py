"""Locks (and conditions) made on first use in each process, from ``threading`` as it is
then.

A lock made at import, at construction or at a fork is the operating system's. gevent
patches ``threading`` later than that in the servers users run it under: gunicorn's
gevent worker (and Celery's ``-P gevent``) patch in the worker, after the fork, with the
app (and its client) imported before. A greenlet waiting on an operating-system lock
blocks the whole worker, and when the greenlet holding it waits for I/O, the worker never
wakes: measured under ``gunicorn --preload -k gevent``, a worker hung for good in the
outbox's first use, two requests' transactions left open. Made at first use, the lock is
gevent's there, and plain ``threading``'s everywhere else.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["PerProcess", "process_lock"]

T = TypeVar("T")

_making = threading.Lock()
"""Held only to make one object, never across a wait (and made again in a forked child)."""


def _remake_in_child() -> None:
    global _making
    _making = threading.Lock()


os.register_at_fork(after_in_child=_remake_in_child)


class PerProcess(Generic[T]):
    """``factory()``, made on first use in each process (see the module's notes)."""

    __slots__ = ("_factory", "_made", "_pid")

    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._made: T | None = None
        self._pid = 0

    def get(self) -> T:
        made, pid = self._made, os.getpid()
        if made is not None and self._pid == pid:
            return made
        with _making:
            if self._made is None or self._pid != pid:
                self._made, self._pid = self._factory(), pid
            return self._made


def process_lock() -> PerProcess[threading.Lock]:
    """A lock made on first use in each process, gevent's where gevent has patched."""
    return PerProcess(lambda: threading.Lock())
