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
from typing import TYPE_CHECKING, Any

import pytest

from ._config import SandboxConfig

if TYPE_CHECKING:
    from ._sandbox import Sandbox, SandboxServer


def _sandbox_module() -> Any:
    """The sandbox, imported when a fixture is first used (it needs the sandbox extra)."""
    try:
        from . import _sandbox
    except ModuleNotFoundError as exc:
        pytest.fail(
            f"The pacspace fixtures need the sandbox extra ({exc.name} is missing): "
            'pip install "pacspace[sandbox]"',
            pytrace=False,
        )
    return _sandbox


@pytest.fixture
def pacspace_sandbox_config() -> SandboxConfig:
    return SandboxConfig(verify_latency=0.0, seed=1)


@pytest.fixture
def pacspace_sandbox(pacspace_sandbox_config: SandboxConfig) -> Iterator[Sandbox]:
    sandbox = _sandbox_module().Sandbox(pacspace_sandbox_config)
    yield sandbox
    sandbox.close()


@pytest.fixture
async def pacspace_client(pacspace_sandbox: Sandbox) -> AsyncIterator[Any]:
    import httpx

    from pacspace_async import PacSpace

    http = httpx.AsyncClient(transport=pacspace_sandbox.transport())
    url = _sandbox_module().IN_PROCESS_URL
    client = PacSpace(pacspace_sandbox.api_key, base_url=url, http_client=http)
    yield client
    await client.aclose()
    await http.aclose()
    await pacspace_sandbox.aclose()


@pytest.fixture
def pacspace_server(pacspace_sandbox: Sandbox) -> Iterator[SandboxServer]:
    with pacspace_sandbox.serve() as server:
        yield server
