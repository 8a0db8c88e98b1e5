"""The ASGI twin of ``wsgi_meter``: an async client built at import (no loop yet), served
by ``gunicorn --preload -k uvicorn.workers.UvicornWorker``. Each worker's meter runs on its
own event loop; the lifespan's shutdown closes the client, which delivers (or keeps in
the outbox) what the worker counted."""

from __future__ import annotations

import os

from pacspace_async import PacSpace

from ._asgi import asgi_app

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


async def add(query: dict[str, list[str]]) -> bytes:
    meter.add(query["customer"][0], query["amount"][0], reason=query["reason"][0])
    return b"ok"


application = asgi_app(add, pac.aclose)
