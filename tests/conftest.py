from __future__ import annotations

import os

# respx intercepts httpx's own transports; the aiohttp backend is exercised over real
# loopback sockets in test_backends.py. Subprocesses started by tests inherit this too.
os.environ.setdefault("PACSPACE_HTTP_BACKEND", "httpx")

from collections.abc import AsyncIterator

import pytest
import respx

from pacspace_async import PacSpace

BASE = "https://api.test"
KEY = "pk_test_PUBLIC.SECRET"


@pytest.fixture
def mock_api() -> respx.MockRouter:
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        yield router


@pytest.fixture
async def pac(mock_api: respx.MockRouter) -> AsyncIterator[PacSpace]:
    client = PacSpace(KEY, base_url=BASE)
    yield client
    await client.aclose()


@pytest.fixture
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record the transport's sleeps instead of waiting them out."""
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr("pacspace_async._transport.sleep", fake_sleep)
    return slept


def envelope(data: object) -> dict[str, object]:
    return {"success": True, "data": data}
