"""What keeps a served sandbox its owner's: the ``Host`` names it answers, and a brake
on guessing the dashboard password.

A page on any web site can make the owner's browser send requests to ``127.0.0.1``
under a name of the page's choosing, once its DNS answer changes to 127.0.0.1 (DNS
rebinding). Answering only the names the sandbox is served under closes that door:
the rebound name is not one of them. The in-process sandbox (tests) is reachable by no
browser and answers any name.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, Final

import simplejson

__all__ = ["HostGuard", "LoginThrottle", "LOOPBACK_NAMES", "allowed_hosts", "is_loopback"]

LOOPBACK_NAMES: Final = ("127.0.0.1", "localhost", "::1")
ALL_INTERFACES: Final = ("0.0.0.0", "::", "")


def is_loopback(host: str) -> bool:
    return host in LOOPBACK_NAMES or host.startswith("127.")


def allowed_hosts(host: str, extra: Iterable[str] = ()) -> frozenset[str]:
    """The names a sandbox bound to ``host`` answers: loopback's, ``host`` itself
    (unless it means every interface) and ``extra``; lower case, without port."""
    names = {*LOOPBACK_NAMES, *(h.strip().lower().strip("[]") for h in extra)}
    if host not in ALL_INTERFACES:
        names.add(host.lower().strip("[]"))
    return frozenset(n for n in names if n)


def _host_of(value: str) -> str:
    """``Host`` without its port: ``[::1]:8000`` is ``::1``, ``a.b:80`` is ``a.b``."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class HostGuard:
    """ASGI middleware: a request whose ``Host`` is not allowed gets 421 and the JSON
    error envelope, before any route sees it."""

    def __init__(self, app: Any, allowed: frozenset[str]) -> None:
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            host = ""
            for name, value in scope.get("headers", ()):
                if name == b"host":
                    host = _host_of(value.decode("latin-1"))
                    break
            if host not in self.allowed:
                await self._refuse(scope, send, host)
                return
        await self.app(scope, receive, send)

    async def _refuse(self, scope: Any, send: Any, host: str) -> None:
        served = ", ".join(sorted(self.allowed))
        message = (
            f"This sandbox answers only the host names it is served under ({served}); "
            f"{host or 'a request without Host'!r} is not one of them. To reach it under "
            f"another name, start it with --allowed-host {host or 'NAME'}."
        )
        body = simplejson.dumps(
            {"success": False, "error": {"code": "MISDIRECTED_REQUEST", "message": message}}
        ).encode()
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        await send(
            {
                "type": "http.response.start",
                "status": 421,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class LoginThrottle:
    """Failed logins per client: the first :attr:`FREE` cost nothing, each further one
    waits twice as long as the last (from :attr:`FIRST_DELAY`), and after :attr:`LIMIT`
    in a row every login from that client, right or wrong, is refused with 429 and
    ``Retry-After`` for :attr:`LOCKOUT` seconds. A success clears the count."""

    FREE: Final = 3
    FIRST_DELAY: Final = 0.25
    LIMIT: Final = 10
    LOCKOUT: Final = 60.0

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._failures: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()

    def locked_for(self, client: str) -> int:
        """Whole seconds this client must wait before trying again (0: it may try)."""
        with self._lock:
            count, last = self._failures.get(client, (0, 0.0))
        if count < self.LIMIT:
            return 0
        left = last + self.LOCKOUT - self._clock()
        if left <= 0:
            with self._lock:
                self._failures.pop(client, None)
            return 0
        return max(1, math.ceil(left))

    def failed(self, client: str) -> float:
        """Note a failure; the seconds to hold its answer back."""
        with self._lock:
            count = self._failures.get(client, (0, 0.0))[0] + 1
            self._failures[client] = (count, self._clock())
            if len(self._failures) > 10_000:  # many clients: forget the oldest
                oldest = min(self._failures, key=lambda c: self._failures[c][1])
                del self._failures[oldest]
        if count <= self.FREE:
            return 0.0
        return float(min(self.FIRST_DELAY * 2 ** (count - self.FREE - 1), 4.0))

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._failures.pop(client, None)
