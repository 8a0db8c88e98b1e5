"""One module per HTTP library: send bytes, read a bounded answer, map its own exceptions.

The transport (policy) never knows which one it talks to. ``open_backend`` picks one:
``"httpx"``, ``"aiohttp"`` (installed with the package), or ``"auto"``
(``PACSPACE_HTTP_BACKEND`` if set, else aiohttp, else httpx where aiohttp is missing).
"""

from __future__ import annotations

import importlib.util
import os
import ssl
from typing import Literal

from .._aio import ASYNCIO_ONLY, async_library
from .._errors import PacSpaceError, ValidationError
from ._base import (
    Backend,
    ConnectionFailed,
    Reply,
    TimedOut,
    TooLarge,
    UnsupportedEncoding,
    read_bounded,
)
from ._callable import CallableBackend, TransportCallable, TransportResponse
from ._httpx import ClientBackend, HttpxBackend

__all__ = [
    "MAX_CONNECTIONS",
    "Backend",
    "CallableBackend",
    "ClientBackend",
    "ConnectionFailed",
    "HttpBackend",
    "Reply",
    "TimedOut",
    "TooLarge",
    "TransportCallable",
    "TransportResponse",
    "UnsupportedEncoding",
    "open_backend",
    "read_bounded",
    "resolve_backend",
]

HttpBackend = Literal["auto", "httpx", "aiohttp"]
"""``auto``: ``PACSPACE_HTTP_BACKEND`` if set, else aiohttp."""

MAX_CONNECTIONS = 128
"""Connections per client, and so requests on the wire at once (the rest wait in line)."""


def resolve_backend(backend: str) -> str:
    """``auto``: ``PACSPACE_HTTP_BACKEND`` if set, else aiohttp when installed (and the
    client is built on asyncio, or outside any loop), else httpx."""
    if backend != "auto":
        return backend
    chosen = os.environ.get("PACSPACE_HTTP_BACKEND")
    if chosen:
        return chosen
    if async_library() not in (None, "asyncio"):
        return "httpx"  # aiohttp is asyncio-only; httpx runs on anyio's every backend
    return "aiohttp" if importlib.util.find_spec("aiohttp") else "httpx"


def open_backend(
    name: str, *, proxy: str | None = None, ssl_context: ssl.SSLContext | None = None
) -> Backend:
    backend = resolve_backend(name)
    if backend == "httpx":
        return HttpxBackend(proxy=proxy, ssl_context=ssl_context, max_connections=MAX_CONNECTIONS)
    if backend == "aiohttp":
        if async_library() not in (None, "asyncio"):
            raise ValidationError(ASYNCIO_ONLY, field="http_backend")
        try:
            from ._aiohttp import AiohttpBackend
        except ImportError as exc:
            raise PacSpaceError(
                'http_backend="aiohttp" needs the aiohttp extra: pip install "pacspace[aiohttp]"',
                0,
                "MISSING_EXTRA",
            ) from exc
        return AiohttpBackend(proxy=proxy, ssl_context=ssl_context, max_connections=MAX_CONNECTIONS)
    raise ValidationError(
        f'http_backend must be "auto", "httpx" or "aiohttp", not {backend!r}', field="http_backend"
    )
