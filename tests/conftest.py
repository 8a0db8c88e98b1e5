from __future__ import annotations

import os

# respx intercepts httpx's own transports; the aiohttp backend is exercised over real
# loopback sockets in test_backends.py. Subprocesses started by tests inherit this too.
os.environ.setdefault("PACSPACE_HTTP_BACKEND", "httpx")

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import respx

from pacspace_async import PacSpace
from pacspace_sandbox import Sandbox

from ._clients import FAST, in_process_clients

BASE = "https://api.test"
KEY = "pk_test_PUBLIC.SECRET"


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keep each phase's report on the test (``item.rep_call``), so that a fixture can
    tell in its teardown whether the test failed (the browser tests' screenshots)."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


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


@pytest.fixture
async def client_factory(pacspace_sandbox: Sandbox) -> AsyncIterator[Callable[..., PacSpace]]:
    """Make clients on the in-process sandbox: ``client_factory(**submission)``; closed after."""
    async with in_process_clients(pacspace_sandbox) as make:
        yield lambda **submission: make(submission={**FAST, **submission})


def envelope(data: object) -> dict[str, object]:
    return {"success": True, "data": data}


# -- a real PostgreSQL ------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A PostgreSQL server URL: ``PACSPACE_TEST_POSTGRES_URL``, else a throwaway server
    started here with ``pgserver``. Without either, tests that need it skip, except under
    CI (``CI=true``), where they fail."""
    url = os.environ.get("PACSPACE_TEST_POSTGRES_URL")
    if url:
        yield url
        return
    try:
        import pgserver

        server = pgserver.get_server(tmp_path_factory.mktemp("postgres"), cleanup_mode="stop")
        url = server.get_uri()
    except Exception as exc:  # no pgserver wheel, no permission, no disk...
        reason = f"no PostgreSQL: set PACSPACE_TEST_POSTGRES_URL or install pgserver ({exc})"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(reason)
        pytest.skip(reason)
    yield url
    server.cleanup()


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    """A fresh, empty database on the test server, as a ``postgresql://`` URL."""
    import psycopg

    name = f"pacspace_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(postgres_server)
    return urlunsplit(parts._replace(path=f"/{name}"))
