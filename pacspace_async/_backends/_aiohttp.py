"""The aiohttp backend (the ``aiohttp`` extra): several times faster under concurrency.

One ``aiohttp.ClientSession`` per backend, made on first use on the running loop. Its
requests are made equal to the httpx backend's: the URL is sent as encoded (``yarl``
would otherwise re-normalise ``%3B`` to ``;``), no ``Accept``/``Accept-Encoding`` of its
own, no automatic decompression (bodies are decoded with a bound, see
:func:`._base.read_bounded`), no redirects, and the proxy the transport chose.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
from collections.abc import Mapping

import aiohttp
from yarl import URL

from .._aio import ASYNCIO_ONLY, async_library
from .._errors import ValidationError
from ._base import ConnectionFailed, Reply, TimedOut, TooLarge, known_length, read_bounded

__all__ = ["AiohttpBackend"]


@functools.lru_cache(maxsize=64)
def _timeout(
    total: float | None, connect: float | None, read: float | None, pool: float | None
) -> aiohttp.ClientTimeout:
    """aiohttp's timeouts for one attempt (a few distinct ones per client: cached).

    ``total`` bounds the whole attempt, body reads included. A phase bound no shorter
    than it is left out: it could never fire first, and a read bound costs a timer
    re-armed on every chunk received.
    """

    def shorter(phase: float | None) -> float | None:
        return phase if phase is not None and (total is None or phase < total) else None

    return aiohttp.ClientTimeout(
        total=total, sock_connect=shorter(connect), sock_read=shorter(read), connect=shorter(pool)
    )


@functools.lru_cache(maxsize=256)
def _url(url: str) -> URL:
    """The URL as encoded (parsed once per distinct URL: an emit's is always the same)."""
    return URL(url, encoded=True)


class AiohttpBackend:
    def __init__(
        self, *, proxy: str | None, ssl_context: ssl.SSLContext | None, max_connections: int
    ) -> None:
        self._proxy = proxy
        # Made here, not at aiohttp's import: SSL_CERT_FILE / SSL_CERT_DIR are read now.
        self._ssl = ssl_context if ssl_context is not None else ssl.create_default_context()
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None
        self._closed = False

    def _session_here(self) -> aiohttp.ClientSession:
        session = self._session
        if session is None or session.closed:
            if self._closed:  # never a fresh session (and its sockets) after the close
                raise ConnectionFailed("the client is closed")
            if async_library() != "asyncio":  # built outside a loop, used under trio
                raise ValidationError(ASYNCIO_ONLY, field="http_backend")
            session = self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._max_connections, ssl=self._ssl),
                auto_decompress=False,
                skip_auto_headers=("Accept", "Accept-Encoding"),
                trust_env=False,  # the environment was read once, for our one host
            )
        return session

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
        limits = _timeout(total, phases.get("connect"), phases.get("read"), phases.get("pool"))
        try:
            async with self._session_here().request(
                method,
                _url(url),
                data=content,
                headers=headers,  # aiohttp copies them into its own multidict
                timeout=limits,
                allow_redirects=False,
                proxy=self._proxy,
            ) as answer:
                if known_length(answer.headers, limit) is not None:
                    body = await answer.read()
                    if len(body) > limit:
                        raise TooLarge
                else:
                    body = await read_bounded(
                        answer.content.iter_chunked(65536),
                        answer.headers.get("Content-Encoding"),
                        limit,
                    )
                return Reply(answer.status, answer.headers, body)
        except asyncio.TimeoutError as exc:
            raise TimedOut(type(exc).__name__) from exc
        except aiohttp.ClientError as exc:
            raise ConnectionFailed(f"{type(exc).__name__}: {exc}") from exc

    async def aclose(self) -> None:
        self._closed = True
        session, self._session = self._session, None
        if session is not None:
            await session.close()
