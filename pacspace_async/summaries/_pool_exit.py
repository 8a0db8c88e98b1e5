"""Process pools end their processes without interpreter exit hooks.

A ``multiprocessing`` pool's process runs its own finalizers and then ``os._exit``; a
Celery prefork pool's process (``billiard``) calls ``os._exit`` from the worker itself,
after sending Celery's ``worker_process_shutdown``. ``atexit`` runs in neither, so what a
meter counted there would stay open in the outbox (or, in memory, be lost) when the pool
stops. In a forked child, :func:`at_pool_exit` hooks the exit work to what does run: a
``multiprocessing`` finalizer, and Celery's signal. Only libraries the process already
imported are asked (nothing is imported here); a plain ``os.fork`` child (gunicorn's) is
untouched, and its exit runs ``atexit`` as usual. The exit work is idempotent: a process
whose ``atexit`` runs as well does it once.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

__all__ = ["at_pool_exit"]

EXIT_PRIORITY = 10
"""Before the pool's own finalizers (its queues and pipes close at priority 0)."""


def at_pool_exit(owner: object, callback: Callable[[], None]) -> None:
    """In a forked child: run ``callback`` at the exit of the pool process this child
    becomes, if it becomes one. Called from the child's fork hook: ``multiprocessing``'s
    bootstrap clears the parent's finalizers and then runs its after-fork hooks, where
    the finalizer is registered (``owner`` is kept by weak reference)."""
    util: Any = sys.modules.get("multiprocessing.util")  # billiard.util re-exports it
    if util is not None:

        def register(_: object) -> None:
            util.Finalize(None, callback, exitpriority=EXIT_PRIORITY)

        util.register_after_fork(owner, register)
    signals: Any = sys.modules.get("celery.signals")
    if signals is not None:

        def on_shutdown(**_: Any) -> None:
            callback()

        signals.worker_process_shutdown.connect(on_shutdown, weak=False)
