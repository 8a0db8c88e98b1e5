"""Small event-loop facts shared by the client, the backends, the waiter and the queue.

The client runs on any anyio backend. Two things anyio leaves to each library are here:
a task that outlives the call that started it (the waiter's watcher, the summary
scheduler: an asyncio task, or a trio *system* task) and handing work to the loop from
another thread (a web server's thread delivering a webhook to the sync facade's loop).
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import sniffio

__all__ = [
    "ASYNCIO_ONLY",
    "Detached",
    "Home",
    "async_library",
    "gevent_patched",
    "running_loop",
]

log = logging.getLogger("pacspace")

ASYNCIO_ONLY = (
    'the aiohttp backend runs on asyncio only; under trio use http_backend="httpx" '
    '("auto" picks it there)'
)


def async_library() -> str | None:
    """``asyncio`` or ``trio`` when called from a task of that library, else ``None``."""
    try:
        return sniffio.current_async_library()
    except sniffio.AsyncLibraryNotFoundError:
        return None


def gevent_patched() -> bool:
    """Whether gevent has patched ``socket`` in this process (never imports gevent)."""
    monkey = sys.modules.get("gevent.monkey")
    return monkey is not None and bool(monkey.is_module_patched("socket"))


def running_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop running in this thread, or ``None`` (a plain thread, or no loop yet)."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class Home:
    """One running event loop: an asyncio loop, or a trio run (by its token)."""

    __slots__ = ("_loop", "_token")

    def __init__(self, loop: asyncio.AbstractEventLoop | None, token: Any = None) -> None:
        self._loop = loop
        self._token = token

    @classmethod
    def current(cls) -> Home | None:
        """The loop of the calling task, or ``None`` outside one."""
        library = async_library()
        if library == "trio":
            import trio

            return cls(None, trio.lowlevel.current_trio_token())
        loop = running_loop()
        return cls(loop) if loop is not None else None

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The asyncio loop (``None`` for a trio run)."""
        return self._loop

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Home) and self._loop is other._loop and self._token is other._token

    def __hash__(self) -> int:
        return hash((id(self._loop), id(self._token)))

    def is_current(self) -> bool:
        """Whether the caller runs on this loop (its thread, inside it)."""
        return self == Home.current()

    def call_soon(self, fn: Callable[..., object], *args: Any) -> bool:
        """Run ``fn(*args)`` on this loop soon, from any thread; ``False`` once it is gone."""
        if self._loop is not None:
            if self._loop.is_closed():
                return False
            try:
                self._loop.call_soon_threadsafe(fn, *args)
            except RuntimeError:  # closed in between
                return False
            return True
        import trio

        try:
            self._token.run_sync_soon(fn, *args)
        except trio.RunFinishedError:
            return False
        return True

    def spawn(self, work: Callable[[], Awaitable[None]], name: str) -> Detached:
        """Start ``work`` as a task of its own (call on this loop): it outlives the call
        that started it and ends when it returns, is cancelled, or the loop ends."""
        return Detached(self, work, name)


class Detached:
    """A background task: an asyncio task, or a trio system task in its own cancel scope.

    A failure of the work is logged, never raised into the loop (a trio system task that
    raised would crash the whole run).
    """

    def __init__(self, home: Home, work: Callable[[], Awaitable[None]], name: str) -> None:
        self.home = home
        self._name = name
        self._finished = False
        self._task: asyncio.Task[None] | None = None
        self._scope: anyio.CancelScope | None = None
        self._ended: anyio.Event | None = None
        if home.loop is not None:
            self._task = home.loop.create_task(self._guarded(work), name=name)
        else:
            import trio

            self._scope = anyio.CancelScope()
            self._ended = anyio.Event()
            trio.lowlevel.spawn_system_task(self._in_scope, work, name=name)

    async def _in_scope(self, work: Callable[[], Awaitable[None]]) -> None:
        assert self._scope is not None and self._ended is not None
        try:
            with self._scope:
                await self._guarded(work)
        finally:
            self._finished = True
            self._ended.set()

    async def _guarded(self, work: Callable[[], Awaitable[None]]) -> None:
        try:
            await work()
        except anyio.get_cancelled_exc_class():
            raise
        except Exception:
            log.exception("pacspace: background task %s failed", self._name)

    def done(self) -> bool:
        return self._finished or (self._task is not None and self._task.done())

    def cancel(self) -> None:
        """Cancel the work (from its loop; see :meth:`cancel_from_anywhere`)."""
        if self._task is not None:
            self._task.cancel()
        elif self._scope is not None:
            self._scope.cancel()

    def cancel_from_anywhere(self) -> None:
        if self.home.is_current():
            self.cancel()
        else:
            self.home.call_soon(self.cancel)

    async def join(self) -> None:
        """Until the work has ended (call on its loop)."""
        if self._task is not None:
            if not self._task.done():
                await asyncio.wait((self._task,))
        elif self._ended is not None:
            await self._ended.wait()
