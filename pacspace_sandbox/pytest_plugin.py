"""pytest fixtures for testing code that talks to PacSpace, with no account and no network.

Installed as a pytest plugin with the package. Fixtures:

* ``pacspace_sandbox``: a fresh in-memory :class:`~pacspace_sandbox.Sandbox` that
  verifies at once (override the ``pacspace_sandbox_config`` fixture for latency,
  failures, plan limits...);
* ``pacspace_client``: an async ``pacspace_async.PacSpace`` wired to it in-process;
* ``pacspace_server``: the same sandbox on a loopback port (``.url``), for code that
  needs a real socket or another process.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from ._config import SandboxConfig
from ._sandbox import IN_PROCESS_URL, Sandbox, SandboxServer


@pytest.fixture
def pacspace_sandbox_config() -> SandboxConfig:
    return SandboxConfig(verify_latency=0.0, seed=1)


@pytest.fixture
def pacspace_sandbox(pacspace_sandbox_config: SandboxConfig) -> Iterator[Sandbox]:
    sandbox = Sandbox(pacspace_sandbox_config)
    yield sandbox
    sandbox.close()


@pytest.fixture
async def pacspace_client(pacspace_sandbox: Sandbox) -> AsyncIterator[Any]:
    import httpx

    from pacspace_async import PacSpace

    http = httpx.AsyncClient(transport=pacspace_sandbox.transport())
    client = PacSpace(pacspace_sandbox.api_key, base_url=IN_PROCESS_URL, http_client=http)
    yield client
    await client.aclose()
    await http.aclose()
    await pacspace_sandbox.aclose()


@pytest.fixture
def pacspace_server(pacspace_sandbox: Sandbox) -> Iterator[SandboxServer]:
    with pacspace_sandbox.serve() as server:
        yield server
