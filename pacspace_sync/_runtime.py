"""What a generated sync client stands on: one async client, run on the loop thread.

A :class:`Runtime` owns the ``pacspace_async.PacSpace`` behind one sync client. It builds
it from the constructor's arguments, rebuilds it in a forked child (whose connections
would otherwise be the parent's), runs each call on the shared loop thread, and closes it
on ``close()``, on garbage collection (``weakref.finalize``) or at interpreter exit.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine, Generator
from typing import Any, TypeVar

from pacspace_async import PacSpace as AsyncPacSpace
from pacspace_async import PacSpaceError
from pacspace_async.summaries import process_lock
from pacspace_async.types import CloseReport

from ._loop import LoopClosed, loop_thread

__all__ = ["Runtime"]

T = TypeVar("T")


class Runtime:
    def __init__(self, factory: Callable[[], AsyncPacSpace]) -> None:
        self._factory = factory
        self._lock = process_lock()  # made again in a forked child (never left held)
        self._generation = loop_thread.acquire()
        self._client: AsyncPacSpace | None = self._build()
        self.closed = False
        self.close_reason: str | None = None
        """What ``close(reason)`` gave: the message of every later call's error."""

    def _build(self) -> AsyncPacSpace:
        """Build the async client in the caller's thread, then tell it its loop.

        Built here, not on the loop thread, so that whatever it imports on first use (an
        HTTP backend, an outbox's driver) is imported before the loop thread runs: a fork
        (gunicorn ``--preload``, Celery, multiprocessing) that lands while the loop
        thread is mid-import leaves the child a half-initialised module."""
        client = self._factory()

        async def settle() -> None:
            client._bind_loop()

        loop_thread.run(settle())
        # A meter's first add in a forked child calls this: the child gets its own client.
        client._on_fork_child(self.client)
        return client

    def client(self) -> AsyncPacSpace:
        """The async client of this process (rebuilt once after a fork)."""
        client = self._client
        if client is None:
            raise PacSpaceError(self.close_reason or "The client is closed.", 0, "CLIENT_CLOSED")
        if self._generation != loop_thread.generation:
            with self._lock.get():
                if self._generation != loop_thread.generation:
                    self._generation = loop_thread.acquire()
                    old, self._client = client, None
                    self._client = client = self._build()
                    client._adopt(old)  # its meters now report to the child's client
                else:
                    client = self._client
        if client is None:
            raise PacSpaceError("The client is closed.", 0, "CLIENT_CLOSED")
        return client

    def run(self, call: Callable[[AsyncPacSpace], Coroutine[Any, Any, T]]) -> T:
        """Run one async call on the loop thread and return its result."""
        return self._on_loop(call(self.client()))

    def _on_loop(self, coro: Coroutine[Any, Any, T]) -> T:
        try:
            return loop_thread.run(coro)
        except (asyncio.CancelledError, LoopClosed):
            # Not the caller's Ctrl-C (that raises KeyboardInterrupt here): the client
            # closed while the call was in flight (the loop cancelled what was left), or
            # between taking the client and handing the call over.
            raise PacSpaceError(
                self._closing_reason() or "The client closed while this call was in flight.",
                0,
                "CLIENT_CLOSED",
            ) from None

    def _closing_reason(self) -> str | None:
        return self.close_reason

    def iterate(
        self, call: Callable[[AsyncPacSpace], AsyncIterator[T]]
    ) -> Generator[T, None, None]:
        """An async iterator of the core, pulled one item per hop from this thread.

        Closing it (or collecting it) closes the async one on the loop, which stops its
        requests in flight; once the loop has stopped, its own shutdown has done that."""
        iterator = call(self.client())
        generation = loop_thread.generation

        async def step() -> T:
            return await iterator.__anext__()

        try:
            while True:
                try:
                    yield self._on_loop(step())
                except StopAsyncIteration:
                    return
        finally:
            close = getattr(iterator, "aclose", None)
            # Only on the loop it was made on (not a forked child's). Once the last client
            # let that loop go, ``run`` refuses rather than start one (at interpreter exit
            # a thread started then never runs): the loop's own shutdown closed it.
            if (
                close is not None
                and not loop_thread.running_here
                and generation == loop_thread.generation
            ):

                async def finish() -> None:
                    await close()

                with contextlib.suppress(LoopClosed):
                    loop_thread.run(finish())

    def derived(self, make: Callable[[AsyncPacSpace], AsyncPacSpace]) -> Runtime:
        """A runtime for a client made from this one's (``with_options``): it follows
        this one across forks and leaves closing to it."""
        return _Derived(self, make)

    def close(self) -> CloseReport | None:
        with self._lock.get():
            client, self._client = self._client, None
            if client is None:
                return None
            self.closed = True
            generation = self._generation
        try:
            if generation == loop_thread.generation:
                return loop_thread.run(client.aclose(self.close_reason))
            return None
        finally:
            loop_thread.release(generation)


class _Derived(Runtime):
    """The runtime of a ``with_options`` client: the parent's client, transformed."""

    def __init__(self, parent: Runtime, make: Callable[[AsyncPacSpace], AsyncPacSpace]) -> None:
        self._parent = parent
        self._make = make
        self._lock = process_lock()
        self._source: AsyncPacSpace | None = None
        self._client = None
        self.closed = False
        self.close_reason = None

    def client(self) -> AsyncPacSpace:
        source = self._parent.client()  # raises CLIENT_CLOSED once the parent is closed
        with self._lock.get():
            if self._source is not source or self._client is None:
                self._source, self._client = source, self._make(source)
            return self._client

    def _closing_reason(self) -> str | None:
        return self._parent._closing_reason()

    def close(self) -> CloseReport | None:
        return None  # the parent owns the connections, the waiter and the summaries
