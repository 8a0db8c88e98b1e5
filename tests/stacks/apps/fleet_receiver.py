"""The fleet's webhook receiver: a Starlette app whose client shares the PostgreSQL outbox
with the processes that wait, and receives the sandbox's signed deliveries at
``/pacspace/webhooks`` (``mount_on``). It waits on nothing itself: what it verifies
reaches the other processes' waits through the outbox's delivery channel."""

from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from pacspace_async.webhooks import webhook_endpoint

from ._client import async_client


async def pid(request: Request) -> PlainTextResponse:
    return PlainTextResponse(str(os.getpid()))


pac = async_client()
app = Starlette(routes=[Route("/pid", pid)])
webhook_endpoint(pac.webhooks).mount_on(app, "/pacspace/webhooks")
