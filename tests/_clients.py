"""Clients on an in-process sandbox, closed (with their shared HTTP client) afterwards."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx

import pacspace_sync
from pacspace_async import PacSpace
from pacspace_sandbox import IN_PROCESS_URL, Sandbox

FAST = {"maxRequestsPerMinute": 60_000}
"""Submission options that never make a test wait for the client's own pacing."""


@contextlib.asynccontextmanager
async def in_process_clients(sandbox: Sandbox) -> AsyncIterator[Callable[..., PacSpace]]:
    """``make(api_key=None, **client_options)``: a client on ``sandbox`` (its first key by
    default); every client made is closed on exit."""
    made: list[PacSpace] = []
    http = httpx.AsyncClient(transport=sandbox.transport())

    def make(api_key: str | None = None, **options: Any) -> PacSpace:
        client = PacSpace(
            api_key or sandbox.api_key, base_url=IN_PROCESS_URL, http_client=http, **options
        )
        made.append(client)
        return client

    try:
        yield make
    finally:
        for client in made:
            await client.aclose()
        await http.aclose()


def blocking_on_outbox(sandbox: Sandbox, server: Any, outbox: str) -> pacspace_sync.PacSpace:
    """A blocking client on the served ``sandbox`` (``server``), its summaries in
    ``outbox``, the scheduler not started: the test flushes when it means to."""
    return pacspace_sync.PacSpace(
        sandbox.api_key,
        base_url=server.url,
        submission={"outbox": outbox, "autoStart": False, **FAST},
    )
