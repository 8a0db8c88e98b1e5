"""The peer for the sandbox's throughput: the same stack (uvicorn + Starlette) answering
an emit with a canned body, so the difference is the sandbox's own work."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

BODY = b'{"success":true,"data":{"recordId":"r_1","receiptId":"rcpt_1","status":"QUEUED"}}'


async def emit(request: Request) -> Response:
    await request.body()
    return Response(BODY, status_code=201, media_type="application/json")


app = Starlette(routes=[Route("/api/v1/balance/delta", emit, methods=["POST"])])
