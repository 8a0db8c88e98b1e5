"""Small asyncio facts shared by the client, the waiter and the summary queue."""

from __future__ import annotations

import asyncio

__all__ = ["running_loop"]


def running_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop running in this thread, or ``None`` (a plain thread, or no loop yet)."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
