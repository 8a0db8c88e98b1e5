"""The ASGI twin of ``wsgi_meter``: an async client built at import (no loop yet), served
by ``gunicorn --preload -k uvicorn.workers.UvicornWorker``. Each worker's meter runs on its
own event loop; the lifespan's shutdown closes the client, which delivers (or keeps in
the outbox) what the worker counted."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

from pacspace_async import PacSpace

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

pac = PacSpace(
    os.environ["PACSPACE_API_KEY"],
    base_url=os.environ["PACSPACE_API_BASE_URL"],
    submission={
        "outbox": os.environ["PACSPACE_TEST_OUTBOX"],
        "journalIntervalMs": 50,
        "maxRequestsPerMinute": 60_000,
    },
)
meter = pac.balance.meter()
meter.add("warm-up", -1)  # the master's own usage: kept in the outbox, never twice


async def application(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await pac.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["path"] == "/pid":
        body = str(os.getpid()).encode()
    else:
        query = parse_qs(scope.get("query_string", b"").decode())
        meter.add(query["customer"][0], query["amount"][0], reason=query["reason"][0])
        body = b"ok"
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain"), (b"content-length", b"%d" % len(body))],
        }
    )
    await send({"type": "http.response.body", "body": body})
