"""Receiving webhooks: an ASGI endpoint that does the raw-body step right.

    app = webhook_endpoint(pac.webhooks, {"delta.verified": on_verified})
    # FastAPI / Starlette: app.mount("/pacspace/webhooks", app)

It reads the raw body (the step users get wrong most often: a framework's parsed JSON
re-serialises differently and never verifies), verifies it, and calls the handler
registered for the event name (``"*"`` catches the rest; sync or async). Answers: 400 on
a failed verification (the reason code in the body), 408 when the body takes longer than
``read_timeout`` to arrive, 413 past :data:`MAX_BODY`, 500 when a handler raises (so
PacSpace delivers again), 204 otherwise. Verifying through a client's ``pac.webhooks``
also ends that client's waits on the record at once.

Pure ASGI, no framework needed. Flask and Django equivalents are a few lines; see the
README.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from anyio import fail_after

from .._errors import WebhookVerificationError
from ._events import WebhookEvent
from ._verify import Webhooks

__all__ = ["MAX_BODY", "webhook_endpoint"]

log = logging.getLogger("pacspace")

MAX_BODY = 1024 * 1024
READ_TIMEOUT = 10.0
"""Seconds a delivery's body may take to arrive: a client dripping bytes is cut off."""
Handler = Callable[[WebhookEvent], Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def webhook_endpoint(
    webhooks: Webhooks,
    handlers: Mapping[str, Handler] | None = None,
    *,
    tolerance: float = 300,
    read_timeout: float = READ_TIMEOUT,
) -> Callable[[dict[str, Any], Receive, Send], Awaitable[None]]:
    """An ASGI app that verifies deliveries and dispatches them by event name."""
    table = dict(handlers or {})

    async def app(scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if scope["method"] != "POST":
            await _answer(send, 405, b'{"error":"method_not_allowed"}')
            return
        try:
            with fail_after(read_timeout):
                body = await _read(receive)
        except TimeoutError:
            await _answer(send, 408, b'{"error":"body_too_slow"}')
            return
        if body is None:
            await _answer(send, 413, b'{"error":"payload_too_large"}')
            return
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope.get("headers", [])]
        try:
            event = webhooks.verify_from_headers(headers, body, tolerance)
        except WebhookVerificationError as exc:
            # No secret is our misconfiguration, not a bad delivery: 500, so it comes again.
            status = 500 if exc.reason == "missing_secret" else 400
            await _answer(send, status, f'{{"error":"{exc.reason}"}}'.encode())
            return
        handler = table.get(event.event) or table.get("*")
        if handler is not None:
            try:
                result = handler(event)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("webhook handler for %s failed", event.event)
                await _answer(send, 500, b'{"error":"handler_failed"}')
                return
        await _answer(send, 204, b"")

    return app


async def _read(receive: Receive) -> bytes | None:
    """The whole body, or ``None`` past :data:`MAX_BODY`."""
    chunks, size = [], 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


async def _answer(send: Send, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"application/json")] if body else []
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
