"""The one event-loop thread behind every sync client in a process.

Each blocking call is handed to the loop in a single step (``call_soon_threadsafe`` of a
callback that starts its task) and waited on with a held lock the task releases in its
last step: one thread-safe enqueue and one wake-up per call. anyio's
``BlockingPortal.call`` needs two round trips per call and measured 2-3x slower here, and
a loop per client (or ``asyncio.run`` per call) would throw away the connection pool
every time.

* Started lazily under a lock and shared by every sync client; stopped when the last
  client closes, so no thread is left behind.
* Fork-safe: ``os.register_at_fork`` forgets the parent's loop in the child, whose
  clients then rebuild their async core (fresh connections) on their next call.
* Thread-safe: many threads may call at once; their calls run concurrently on the loop.
* Ctrl-C during a call raises ``KeyboardInterrupt`` at once on POSIX (within
  :data:`POLL` seconds elsewhere) and cancels the task on the loop.
* Calling back in from the loop thread itself (a handler running on it) raises a clear
  error instead of deadlocking.
"""

from __future__ import annotations

import asyncio

# What the loop thread would otherwise import on first use, imported here, by the thread
# that imports this module: a fork (gunicorn --preload, Celery, multiprocessing) landing
# while the loop thread is mid-import would leave the child a half-initialised module
# (and, under gevent, an import lock held by a thread that does not exist there).
import concurrent.futures.thread  # noqa: F401  asyncio's default executor (getaddrinfo)
import encodings.idna  # noqa: F401  host names, encoded on a connection's first use
import os
import sys
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

import anyio._backends._asyncio  # noqa: F401  anyio loads its backend on its first call
import httpcore._backends.anyio  # noqa: F401  httpcore loads its backend on a first connection

from pacspace_async.summaries import process_lock

__all__ = ["POLL", "LoopClosed", "LoopThread", "loop_thread"]

T = TypeVar("T")
POLL = 0.2
"""Where a blocking wait cannot be interrupted (Windows), how often it wakes for Ctrl-C."""
_INTERRUPTIBLE_WAIT = os.name == "posix"


class LoopClosed(RuntimeError):
    """A call came after the last client let the loop go (it raced that client's close):
    it is not run, and no loop is started for it."""


class LoopThread:
    def __init__(self) -> None:
        self._lock = process_lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._users = 0
        self.generation = 0
        """Bumped in a forked child: clients built before it must rebuild."""

    # -- lifetime ------------------------------------------------------------------

    def acquire(self) -> int:
        """Count a client in; returns the generation it belongs to."""
        with self._lock.get():
            self._users += 1
            return self.generation

    def release(self, generation: int) -> None:
        """Count a client out; the last one out stops the thread."""
        with self._lock.get():
            if generation != self.generation:
                return
            self._users = max(0, self._users - 1)
            if self._users or self._loop is None:
                return
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    def _start(self) -> asyncio.AbstractEventLoop:
        with self._lock.get():
            return self._started()

    def _started(self) -> asyncio.AbstractEventLoop:
        """The running loop, started if need be (under ``_lock``)."""
        if self._loop is None:
            loop = asyncio.new_event_loop()
            ready = threading.Event()

            def run() -> None:
                asyncio.set_event_loop(loop)
                loop.call_soon(ready.set)
                try:
                    loop.run_forever()
                finally:
                    _drain(loop)
                    loop.close()

            thread = threading.Thread(target=run, name="pacspace-sync-loop", daemon=True)
            thread.start()
            ready.wait()
            self._loop, self._thread = loop, thread
        return self._loop

    def _after_fork_in_child(self) -> None:
        # The parent's loop thread does not exist here; forget it without touching it (the
        # lock is made again here by itself).
        self._loop = self._thread = None
        self._users = 0
        self.generation += 1

    # -- calls ----------------------------------------------------------------------

    @property
    def running_here(self) -> bool:
        return self._thread is not None and self._thread is threading.current_thread()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the loop thread and block until it is done."""
        if self.running_here:
            coro.close()
            raise RuntimeError(
                "A pacspace_sync call was made from the SDK's own event-loop thread, where it "
                "would deadlock. Use pacspace_async (await) inside async code."
            )
        with self._lock.get():
            # Handed over under the lock that ``release`` detaches the loop under: a call
            # is queued before the loop's stop (and cancelled by its drain, never left
            # waiting), or comes after the last client let the loop go and is refused.
            if not self._users:
                coro.close()
                raise LoopClosed("no client holds the loop thread any more")
            loop = self._started()
            call = _Call(loop, coro)
            loop.call_soon_threadsafe(call.start)
        try:
            if _INTERRUPTIBLE_WAIT:
                # A blocking lock wait is interrupted by signals on POSIX: Ctrl-C lands at once.
                call.done.acquire()
            else:
                while not call.done.acquire(timeout=POLL):
                    pass
        except KeyboardInterrupt:
            loop.call_soon_threadsafe(call.cancel)
            raise
        result: T = call.outcome()
        return result


class _Call:
    """One blocking call: a task on the loop, and a held lock its caller blocks on.

    The task releases the lock in its own last step, so the caller wakes before the loop
    even runs the task's done-callbacks: the cheapest cross-thread wake-up there is.
    (``run_coroutine_threadsafe`` adds a ``concurrent.futures.Future`` with a condition
    variable, a waiter lock per wait, and a second future chained to the task: about
    40 µs a call here.)
    """

    __slots__ = ("cancelled", "coro", "done", "entered", "error", "loop", "result", "task")

    def __init__(self, loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any]) -> None:
        self.loop = loop
        self.coro = coro
        self.done = threading.Lock()
        self.done.acquire()
        self.task: asyncio.Task[None] | None = None
        self.cancelled = False
        self.entered = False
        self.result: Any = None
        self.error: BaseException | None = None

    def start(self) -> None:
        if self.cancelled:  # Ctrl-C landed before the loop got to the call
            self.coro.close()
            self.error = asyncio.CancelledError()
            self.done.release()
            return
        self.task = task = _start_task(self.loop, self._drive())
        if not self.entered:
            # Not started eagerly (before Python 3.12): a task cancelled before its first
            # step never runs ``_drive``, finally included (the loop stopping in this very
            # turn does that). Its caller must be woken all the same.
            task.add_done_callback(self._never_ran)

    async def _drive(self) -> None:
        self.entered = True
        try:
            self.result = await self.coro
        except BaseException as exc:  # raised in the caller's thread, as it was
            self.error = exc
        finally:
            self.done.release()

    def _never_ran(self, task: asyncio.Task[None]) -> None:
        if not self.entered:
            self.coro.close()
            self.error = asyncio.CancelledError()
            self.done.release()

    def outcome(self) -> Any:
        error = self.error
        if error is not None:
            self.error = None  # no cycle through the traceback
            raise error
        return self.result

    def cancel(self) -> None:
        """Ctrl-C in the caller: cancel the task (or, not started yet, as it starts)."""
        self.cancelled = True
        if self.task is not None:
            self.task.cancel()


if sys.version_info >= (3, 12):

    def _start_task(
        loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, None]
    ) -> asyncio.Task[None]:
        # Run at once, up to the first real wait (no extra turn of the loop).
        return asyncio.Task(coro, loop=loop, eager_start=True)

else:

    def _start_task(
        loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, None]
    ) -> asyncio.Task[None]:
        return loop.create_task(coro)


DRAIN_ROUNDS = 10
"""Rounds of cancelling what is left when the loop stops (a task cancelled may start
another, as cleanup): each caller blocked on a task must be woken, none left waiting."""


def _drain(loop: asyncio.AbstractEventLoop) -> None:
    _cancel_all(loop)
    loop.run_until_complete(loop.shutdown_asyncgens())
    _cancel_all(loop)  # what closing the generators started


def _cancel_all(loop: asyncio.AbstractEventLoop) -> None:
    for _ in range(DRAIN_ROUNDS):
        tasks = asyncio.all_tasks(loop)
        if not tasks:
            return
        for task in tasks:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))


loop_thread = LoopThread()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=loop_thread._after_fork_in_child)
