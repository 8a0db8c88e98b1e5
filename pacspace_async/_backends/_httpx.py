"""The httpx backend: the SDK's own pooled transport, or a caller's ``httpx.AsyncClient``.

The SDK's transport is driven directly (``handle_async_request``): the client's machinery
(URL and header merging, cookies, auth and redirect hooks) costs about twice the request
itself and the Balance API uses none of it. A caller's client is used as given, except
that it never follows a redirect for us.
"""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable, Mapping

import httpx
from anyio import fail_after

from ._base import ConnectionFailed, Reply, TimedOut, TooLarge, known_length, read_bounded

__all__ = ["ClientBackend", "HttpxBackend"]


class HttpxBackend:
    def __init__(
        self, *, proxy: str | None, ssl_context: ssl.SSLContext | None, max_connections: int
    ) -> None:
        limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
        self.transport = httpx.AsyncHTTPTransport(
            limits=limits,
            proxy=proxy,
            verify=ssl_context if ssl_context is not None else True,
            # On a bare transport this only means SSL_CERT_FILE / SSL_CERT_DIR are honoured
            # (proxies were resolved once, for our one host, and come in as ``proxy``).
            trust_env=True,
        )

    async def send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        content: bytes | None,
        *,
        phases: Mapping[str, float | None],
        total: float | None,
        limit: int,
    ) -> Reply:
        request = httpx.Request(
            method, url, headers=headers, content=content, extensions={"timeout": dict(phases)}
        )
        return await _exchange(lambda: self.transport.handle_async_request(request), total, limit)

    async def aclose(self) -> None:
        await self.transport.aclose()


class ClientBackend:
    """A caller's ``httpx.AsyncClient`` (its transport, mounts, event hooks...); never
    closed by us, and never allowed to follow a redirect."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        content: bytes | None,
        *,
        phases: Mapping[str, float | None],
        total: float | None,
        limit: int,
    ) -> Reply:
        request = self.client.build_request(
            method, url, headers=headers, content=content, timeout=httpx.Timeout(**phases)
        )
        return await _exchange(
            lambda: self.client.send(request, stream=True, follow_redirects=False), total, limit
        )

    async def aclose(self) -> None:
        pass


async def _exchange(
    start: Callable[[], Awaitable[httpx.Response]], total: float | None, limit: int
) -> Reply:
    """One exchange within ``total`` seconds (httpx bounds phases only), body read with a
    bound, httpx's exceptions mapped."""
    try:
        with fail_after(total):
            response = await start()
            try:
                body = await _body(response, limit)
            finally:
                await response.aclose()
    except (httpx.TimeoutException, TimeoutError) as exc:
        raise TimedOut(type(exc).__name__) from exc
    except httpx.TransportError as exc:
        raise ConnectionFailed(f"{type(exc).__name__}: {exc}") from exc
    return Reply(response.status_code, response.headers, body)


async def _body(response: httpx.Response, limit: int) -> bytes:
    try:
        body = response.content  # read already: a transport that buffers (MockTransport)
    except httpx.ResponseNotRead:
        if known_length(response.headers, limit) is not None:
            body = await response.aread()
        else:
            return await read_bounded(
                response.aiter_raw(), response.headers.get("content-encoding"), limit
            )
    if len(body) > limit:
        raise TooLarge
    return body
