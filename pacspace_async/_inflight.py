"""The requests a client has on the wire: at most as many as its pool holds, all of them
ended by ``aclose()``.

Calls beyond the pool's size wait here, in order (anyio's semaphore is first come, first
served), each for at most its own ``pool`` timeout. Queued in the HTTP library instead,
they cost more than waiting: httpcore re-scans every queued request against every
connection whenever one is added or released, so 2,000 concurrent emits through a
128-connection pool kept the event loop busy for seconds before the first answer.

Closing cancels every attempt in flight (the caller gets ``CLIENT_CLOSED``) and waits
for them to unwind before the backend closes its connections; nothing starts after it.
"""

from __future__ import annotations

from typing import Final

from anyio import CancelScope, Event, Semaphore, fail_after, move_on_after

__all__ = ["Closed", "InFlight", "QueueTimeout"]

UNWIND_LIMIT: Final = 5.0
"""How long ``close`` waits for cancelled attempts to unwind (seconds)."""


class Closed(Exception):
    """The client closed before, or while, this attempt was on the wire."""


class QueueTimeout(Exception):
    """No room in the pool within the attempt's ``pool`` timeout."""


class InFlight:
    __slots__ = ("_gate", "_idle", "_scopes", "capacity", "closed")

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.closed = False
        self._scopes: set[CancelScope] = set()
        self._gate: Semaphore | None = None
        self._idle: Event | None = None

    async def enter(self, wait: float | None) -> CancelScope:
        """A place on the wire (waiting in line for at most ``wait`` seconds), as the
        cancel scope the attempt runs in. Pair with :meth:`leave`."""
        if self.closed:
            raise Closed
        gate = self._gate
        if gate is None:  # made on first use, in the running loop (any anyio backend)
            gate = self._gate = Semaphore(self.capacity, fast_acquire=True)
        if gate.value > 0:
            gate.acquire_nowait()
        else:
            try:
                with fail_after(wait):
                    await gate.acquire()
            except TimeoutError:
                raise QueueTimeout from None
        if self.closed:
            gate.release()
            raise Closed
        scope = CancelScope()
        self._scopes.add(scope)
        return scope

    def leave(self, scope: CancelScope) -> None:
        self._scopes.discard(scope)
        assert self._gate is not None
        self._gate.release()
        if self.closed and not self._scopes and self._idle is not None:
            self._idle.set()

    async def close(self) -> None:
        """Refuse new attempts, cancel those in flight and wait (bounded) until they
        have unwound, so the backend closes connections nobody is using."""
        self.closed = True
        if not self._scopes:
            return
        self._idle = Event()
        for scope in self._scopes:
            scope.cancel()
        with move_on_after(UNWIND_LIMIT):
            await self._idle.wait()
