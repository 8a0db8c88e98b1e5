"""The plain ASGI plumbing the stack apps share: a lifespan whose shutdown runs the app's
closing, ``/pid``, a text answer, and the ORM apps' ``/order`` handler."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
Handler = Callable[[dict[str, list[str]]], Awaitable[bytes]]
Transact = Callable[[str, str, str, bool], Awaitable[None]]


class Failed(Exception):
    """The app's own work failing after it recorded."""


def orders(transact: Transact) -> Handler:
    """The ``/order`` handler of the ORM stack apps: ``transact(customer, amount, reason,
    fail)`` inserts the order and records its usage in one transaction of the app's own,
    raising :class:`Failed` after recording when ``fail`` (the transaction rolls back);
    answers ``ok`` or ``rolled back``."""

    async def order(query: dict[str, list[str]]) -> bytes:
        customer, amount, reason = query["customer"][0], query["amount"][0], query["reason"][0]
        try:
            await transact(customer, amount, reason, query.get("fail") == ["1"])
        except Failed:
            return b"rolled back"
        return b"ok"

    return order


def asgi_app(
    handle: Handler, on_shutdown: Callable[[], Awaitable[None]]
) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """An ASGI app answering ``/pid`` and, for any other path, ``handle(query)``."""

    async def application(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await on_shutdown()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["path"] == "/pid":
            body = str(os.getpid()).encode()
        else:
            body = await handle(parse_qs(scope.get("query_string", b"").decode()))
        headers = [(b"content-type", b"text/plain"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return application
