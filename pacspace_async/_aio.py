"""Small event-loop facts shared by the client, the backends, the waiter and the queue."""

from __future__ import annotations

import asyncio

import sniffio

__all__ = ["ASYNCIO_ONLY", "async_library", "running_loop"]

ASYNCIO_ONLY = (
    'the aiohttp backend runs on asyncio only; under trio use http_backend="httpx" '
    '("auto" picks it there)'
)


def async_library() -> str | None:
    """``asyncio`` or ``trio`` when called from a task of that library, else ``None``."""
    try:
        return sniffio.current_async_library()
    except sniffio.AsyncLibraryNotFoundError:
        return None


def running_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop running in this thread, or ``None`` (a plain thread, or no loop yet)."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
