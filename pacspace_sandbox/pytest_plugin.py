"""pytest fixtures for testing code that talks to PacSpace, with no account and no network.

Installed as a pytest plugin with the package; nothing is imported until a fixture is
used, so a project without the ``sandbox`` extra keeps its own test runs. Fixtures:

* ``pacspace_sandbox_config``: the settings of the sandbox (override it for latency,
  failures, plan limits...);
* ``pacspace_sandbox``: a fresh in-memory :class:`~pacspace_sandbox.Sandbox`;
* ``pacspace_client``: an async ``pacspace_async.PacSpace`` wired to it in-process;
* ``pacspace_sync_client``: a blocking ``pacspace_sync.PacSpace`` wired to it in-process;
* ``pacspace_server``: the same sandbox on a loopback port (``.url``), for code that
  needs a real socket or another process.

Every fixture is a plain (synchronous) pytest fixture, so the async client works the same
under pytest-asyncio in strict or auto mode and under anyio's plugin: it binds to the
event loop of the test that first uses it, and is closed on that loop afterwards.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterator
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pytest

from ._config import SandboxConfig

if TYPE_CHECKING:
    import httpx

    import pacspace_async
    import pacspace_sync

    from ._sandbox import Sandbox, SandboxServer

__all__ = [
    "pacspace_client",
    "pacspace_sandbox",
    "pacspace_sandbox_config",
    "pacspace_server",
    "pacspace_sync_client",
]


def _sandbox_module() -> ModuleType:
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


class _LoopRecorder:
    """Remembers the event loop a client's requests ran on, so that teardown closes the
    client there (a loop that outlives the test, as a session-scoped one), or on a fresh
    loop of the same library once the test's loop is gone (its tasks were cancelled when
    it closed): asyncio, or trio under anyio's plugin."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.library = "asyncio"

    async def __call__(self, request: httpx.Request) -> None:
        import sniffio

        self.library = sniffio.current_async_library()
        if self.library == "asyncio":
            self.loop = asyncio.get_running_loop()

    def run(self, close: Callable[[], Awaitable[None]]) -> None:
        loop = self.loop
        if loop is not None and not loop.is_closed() and not loop.is_running():
            loop.run_until_complete(close())
            return
        errors: list[BaseException] = []
        library = self.library

        def fresh() -> None:
            try:
                if library == "trio":
                    import trio

                    trio.run(_awaited, close)
                else:
                    asyncio.run(_awaited(close))
            except BaseException as exc:  # re-raised in the fixture's thread
                errors.append(exc)

        # A thread of its own: the fixture may be torn down where a loop is running.
        thread = threading.Thread(target=fresh, name="pacspace-fixture-teardown")
        thread.start()
        thread.join()
        if errors:
            raise errors[0]


async def _awaited(close: Callable[[], Awaitable[None]]) -> None:
    await close()


FIXTURE_DEFAULTS: dict[str, Any] = {"verify_latency": 0.0, "seed": 1}
"""Where the fixture's sandbox differs from ``SandboxConfig()``: it verifies at once and
is seeded (deterministic)."""


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "pacspace(**settings): SandboxConfig fields for this test's pacspace_sandbox; "
        "only those named change (e.g. @pytest.mark.pacspace(fail_rate=1.0))",
    )


@pytest.fixture
def pacspace_sandbox_config(request: pytest.FixtureRequest) -> SandboxConfig:
    """The settings of ``pacspace_sandbox``: verifies at once, seeded (deterministic).

    Change some for one test (or a module, with ``pytestmark``) with the ``pacspace``
    marker; only what it names changes, the fixture's other settings stay::

        @pytest.mark.pacspace(fail_rate=1.0)
        async def test_failed_deltas(pacspace_client): ...

    Or override the fixture in your ``conftest.py`` (then you give every setting)."""
    settings = dict(FIXTURE_DEFAULTS)
    for marker in reversed(list(request.node.iter_markers("pacspace"))):
        if marker.args:
            raise pytest.UsageError("@pytest.mark.pacspace takes SandboxConfig fields by name")
        settings.update(marker.kwargs)
    try:
        return SandboxConfig(**settings)
    except (TypeError, ValueError) as exc:
        raise pytest.UsageError(f"@pytest.mark.pacspace: {exc}") from None


@pytest.fixture
def pacspace_sandbox(pacspace_sandbox_config: SandboxConfig) -> Iterator[Sandbox]:
    """A fresh in-memory PacSpace sandbox: look into ``.ledger`` to assert what arrived."""
    sandbox: Sandbox = _sandbox_module().Sandbox(pacspace_sandbox_config)
    yield sandbox
    sandbox.close()


@pytest.fixture
def pacspace_client(pacspace_sandbox: Sandbox) -> Iterator[pacspace_async.PacSpace]:
    """An async ``pacspace_async.PacSpace`` on ``pacspace_sandbox``, in-process (no socket).

    Works in any async test: pytest-asyncio (strict or auto mode) or anyio's plugin.
    Closed after the test, which also sends what its summary queue and meters hold.
    """
    import httpx

    from pacspace_async import PacSpace

    recorder = _LoopRecorder()
    http = httpx.AsyncClient(
        transport=pacspace_sandbox.transport(), event_hooks={"request": [recorder]}
    )
    url: str = _sandbox_module().IN_PROCESS_URL
    client = PacSpace(pacspace_sandbox.api_key, base_url=url, http_client=http)
    yield client

    async def close() -> None:
        try:
            await client.aclose()
        finally:
            await http.aclose()
            await pacspace_sandbox.aclose()

    recorder.run(close)


@pytest.fixture
def pacspace_sync_client(pacspace_sandbox: Sandbox) -> Iterator[pacspace_sync.PacSpace]:
    """A blocking ``pacspace_sync.PacSpace`` on ``pacspace_sandbox``, in-process (no socket).

    For plain (non-async) tests; closed after the test.
    """
    import httpx

    from pacspace_sync import PacSpace

    http = httpx.AsyncClient(transport=pacspace_sandbox.transport())
    url: str = _sandbox_module().IN_PROCESS_URL
    client = PacSpace(pacspace_sandbox.api_key, base_url=url, http_client=http)
    yield client
    client.close()
    # The async http client lived on the facade's loop thread; nothing of it holds a socket.
    asyncio.run(http.aclose())


@pytest.fixture
def pacspace_server(pacspace_sandbox: Sandbox) -> Iterator[SandboxServer]:
    """``pacspace_sandbox`` served on a loopback port: ``pacspace_server.url`` is its base
    URL, for code under test that opens its own connections or runs in another process."""
    try:
        server = pacspace_sandbox.serve()
    except ModuleNotFoundError as exc:
        pytest.fail(str(exc), pytrace=False)
    with server:
        yield server
