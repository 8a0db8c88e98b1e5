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


SHARD_SIZE = 4
"""Connections per httpcore pool. httpcore checks every connection of its pool (and,
for each queued request, every connection again) whenever a request comes or goes: at
128 connections in one pool that scan, not the network, set the pace. 2,000 concurrent
``emit_and_wait`` against a local server: 8-10 s in pools of 16, 5.1-6.6 s in pools of
4, aiohttp 1.4-2.2 s in the same runs; ``python -m benchmarks.inflight``."""


class HttpxBackend:
    """The SDK's own connections: ``max_connections`` split into pools of
    :data:`SHARD_SIZE`, each request sent on the least busy (the first, when all are
    equal, so sequential calls reuse one connection). The transport never has more
    requests on the wire than ``max_connections``, so a pool never queues."""

    def __init__(
        self, *, proxy: str | None, ssl_context: ssl.SSLContext | None, max_connections: int
    ) -> None:
        size = min(SHARD_SIZE, max_connections)
        limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
        # One context for every pool (loading the CA bundle costs milliseconds); made as
        # httpx makes it, so SSL_CERT_FILE / SSL_CERT_DIR are honoured.
        context = ssl_context if ssl_context is not None else httpx.create_ssl_context()
        self._shards = [
            # Proxies were resolved once, for our one host: ``proxy``.
            httpx.AsyncHTTPTransport(limits=limits, proxy=proxy, verify=context, trust_env=False)
            for _ in range(-(-max_connections // size))
        ]
        self._busy = [0] * len(self._shards)

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
        busy = self._busy
        index = busy.index(min(busy))
        shard = self._shards[index]
        busy[index] += 1
        try:
            return await _exchange(lambda: shard.handle_async_request(request), total, limit)
        finally:
            busy[index] -= 1

    async def aclose(self) -> None:
        for shard in self._shards:
            await shard.aclose()


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
