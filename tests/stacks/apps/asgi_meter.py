"""The ASGI twin of ``wsgi_meter``: an async client built at import (no loop yet), served
by ``gunicorn --preload -k uvicorn.workers.UvicornWorker``. Each worker's meter runs on its
own event loop; the lifespan's shutdown closes the client, which delivers (or keeps in
the outbox) what the worker counted."""

from __future__ import annotations

from ._asgi import asgi_app
from ._client import async_client

pac = async_client()
meter = pac.balance.meter()
meter.add("warm-up", -1)  # the master's own usage: kept in the outbox, never twice


async def add(query: dict[str, list[str]]) -> bytes:
    meter.add(query["customer"][0], query["amount"][0], reason=query["reason"][0])
    return b"ok"


application = asgi_app(add, pac.aclose)
