"""Receiving webhooks: an ASGI endpoint that does the raw-body step right.

    hooks = webhook_endpoint(pac.webhooks, {"delta.verified": on_verified})
    hooks.mount_on(app, "/pacspace/webhooks")  # FastAPI / Starlette

It reads the raw body (the step users get wrong most often: a framework's parsed JSON
re-serialises differently and never verifies), verifies it, and calls the handler
registered for the event name (``"*"`` catches the rest; sync or async). Answers: 400 on
a failed verification (the reason code in the body), 408 when the body takes longer than
``read_timeout`` to arrive, 413 past :data:`MAX_BODY`, 500 when a handler raises (so
PacSpace delivers again), 204 otherwise. Verifying through a client's ``pac.webhooks``
also ends that client's waits on the record at once.

Where it is reached matters as much: a webhook sender does not follow redirects, and
Starlette's ``app.mount(path, ...)`` answers a POST to the bare ``path`` with a 307 to
``path/``. :meth:`WebhookEndpoint.mount_on` adds a route answering ``path`` and ``path/``
alike, never a redirect; :meth:`WebhookEndpoint.deliver` serves a route of the app's own
(``@app.post``), any framework's. Pure ASGI otherwise, no framework needed.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from anyio import fail_after

from .._errors import WebhookVerificationError
from ._events import WebhookEvent
from ._verify import Webhooks

__all__ = ["MAX_BODY", "WebhookEndpoint", "webhook_endpoint"]

log = logging.getLogger("pacspace")

MAX_BODY = 1024 * 1024
READ_TIMEOUT = 10.0
"""Seconds a delivery's body may take to arrive: a client dripping bytes is cut off."""
Handler = Callable[[WebhookEvent], Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
Headers = Mapping[str, str] | Iterable[tuple[str, str]]


class WebhookEndpoint:
    """An ASGI app that verifies deliveries and dispatches them by event name."""

    def __init__(
        self,
        webhooks: Webhooks,
        handlers: Mapping[str, Handler] | None = None,
        *,
        tolerance: float = 300,
        read_timeout: float = READ_TIMEOUT,
    ) -> None:
        self._webhooks = webhooks
        self._handlers = dict(handlers or {})
        self._tolerance = tolerance
        self._read_timeout = read_timeout

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if scope["method"] != "POST":
            await _answer(send, 405, b'{"error":"method_not_allowed"}')
            return
        try:
            with fail_after(self._read_timeout):
                body = await _read(receive)
        except TimeoutError:
            await _answer(send, 408, b'{"error":"body_too_slow"}')
            return
        if body is None:
            await _answer(send, 413, b'{"error":"payload_too_large"}')
            return
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope.get("headers", [])]
        status, answer = await self.deliver(body, headers)
        await _answer(send, status, answer)

    async def deliver(self, body: bytes, headers: Headers) -> tuple[int, bytes]:
        """Verify one delivery's raw ``body`` and dispatch it: the HTTP status to answer
        and its JSON body (empty for 204). For a route of your own framework's::

            @app.post("/pacspace/webhooks")
            async def pacspace_webhook(request: Request) -> Response:
                status, body = await hooks.deliver(await request.body(), request.headers)
                return Response(body, status, media_type="application/json")
        """
        try:
            event = self._webhooks.verify_from_headers(headers, body, self._tolerance)
        except WebhookVerificationError as exc:
            # No secret is our misconfiguration, not a bad delivery: 500, so it comes again.
            status = 500 if exc.reason == "missing_secret" else 400
            return status, f'{{"error":"{exc.reason}"}}'.encode()
        handler = self._handlers.get(event.event) or self._handlers.get("*")
        if handler is not None:
            try:
                result = handler(event)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("webhook handler for %s failed", event.event)
                return 500, b'{"error":"handler_failed"}'
        return 204, b""

    def route(self, path: str) -> Any:
        """A Starlette route answering ``path`` and ``path/`` with this endpoint (any
        method: it answers 405 to all but POST), never a redirect."""
        from starlette.routing import BaseRoute, Match, NoMatchFound

        bare = "/" + path.strip("/")
        endpoint = self

        class WebhookRoute(BaseRoute):
            def matches(self, scope: Any) -> tuple[Match, dict[str, Any]]:
                if scope["type"] == "http" and _route_path(scope) in (bare, bare + "/"):
                    return Match.FULL, {"endpoint": endpoint}
                return Match.NONE, {}

            def url_path_for(self, name: str, /, **path_params: Any) -> Any:
                raise NoMatchFound(name, path_params)

            async def handle(self, scope: Any, receive: Any, send: Any) -> None:
                await endpoint(scope, receive, send)

            def __repr__(self) -> str:
                return f"WebhookRoute(path={bare!r})"

        return WebhookRoute()

    def mount_on(self, app: Any, path: str = "/pacspace/webhooks") -> None:
        """Add :meth:`route` to a Starlette or FastAPI ``app``: deliveries to ``path``,
        with or without a trailing slash, reach this endpoint."""
        app.router.routes.append(self.route(path))


def webhook_endpoint(
    webhooks: Webhooks,
    handlers: Mapping[str, Handler] | None = None,
    *,
    tolerance: float = 300,
    read_timeout: float = READ_TIMEOUT,
) -> WebhookEndpoint:
    """An ASGI app that verifies deliveries and dispatches them by event name."""
    return WebhookEndpoint(webhooks, handlers, tolerance=tolerance, read_timeout=read_timeout)


def _route_path(scope: Mapping[str, Any]) -> str:
    """The path below the app's ``root_path`` (as Starlette's routing reads it)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root) and path[len(root) : len(root) + 1] in ("", "/"):
        return path[len(root) :] or "/"
    return path


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
