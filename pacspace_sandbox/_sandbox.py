"""``Sandbox``: a ledger and its ASGI app, usable in-process or served on loopback."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from types import TracebackType
from typing import Any

import httpx

from . import _guard
from ._app import create_app
from ._config import SandboxConfig
from ._ledger import Ledger

__all__ = ["IN_PROCESS_URL", "Sandbox", "SandboxServer"]

IN_PROCESS_URL = "http://sandbox.pacspace.test"
"""The base URL clients use with :meth:`Sandbox.transport` (no socket is opened)."""


class Sandbox:
    """A local PacSpace Balance API.

    ``Sandbox()`` keeps everything in memory; keyword arguments are
    :class:`SandboxConfig` fields (``verify_latency=0`` verifies at once, ``db=PATH``
    persists). Use :meth:`transport` for in-process requests, or :meth:`serve` for a
    loopback server.
    """

    def __init__(self, config: SandboxConfig | None = None, **settings: Any) -> None:
        self.config = config if config is not None else SandboxConfig(**settings)
        self.ledger = Ledger(self.config)
        self.app = create_app(self.ledger)

    def __repr__(self) -> str:
        return f"Sandbox(db={self.config.db!r}, keys={len(self.config.api_keys)})"

    @property
    def api_key(self) -> str:
        return self.config.api_keys[0]

    def transport(self) -> httpx.ASGITransport:
        """An httpx transport that serves requests in-process (base URL :data:`IN_PROCESS_URL`)."""
        return httpx.ASGITransport(app=self.app)

    def served_app(self, host: str = "127.0.0.1", allowed_hosts: Iterable[str] = ()) -> Any:
        """The ASGI app as a server on ``host`` must expose it: it answers only requests
        whose ``Host`` is a loopback name, ``host`` or one of ``allowed_hosts`` (others get
        421, so a DNS-rebinding page cannot reach it). Beyond loopback it refuses, with a
        ``ValueError`` saying why, to be served with the documented dashboard password:
        anyone who can reach the address could log in and mint API keys."""
        self.config.check_served_on(host)
        return _guard.HostGuard(self.app, _guard.allowed_hosts(host, allowed_hosts))

    def serve(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        allowed_hosts: Iterable[str] = (),
        **uvicorn_options: Any,
    ) -> SandboxServer:
        """A loopback server in a background thread; use it as a context manager.

        It answers only requests whose ``Host`` is a loopback name, ``host``, or one of
        ``allowed_hosts`` (others get 421): a DNS-rebinding page cannot reach it."""
        return SandboxServer(self, host, port, allowed_hosts=allowed_hosts, **uvicorn_options)

    async def aclose(self) -> None:
        await self.ledger.deliveries.aclose()

    def close(self) -> None:
        self.ledger.store.close()


class SandboxServer:
    """Uvicorn serving a sandbox from a background thread, for tests and benchmarks."""

    def __init__(
        self,
        sandbox: Sandbox,
        host: str,
        port: int,
        *,
        allowed_hosts: Iterable[str] = (),
        **options: Any,
    ) -> None:
        self.sandbox = sandbox
        try:
            import uvicorn
        except ModuleNotFoundError as exc:
            raise ModuleNotFoundError(
                "Serving the sandbox on a port needs the sandbox extra "
                f'({exc.name} is missing): pip install "pacspace[sandbox]"',
                name=exc.name,
            ) from None
        options.setdefault("log_level", "warning")
        options.setdefault("lifespan", "off")
        app = sandbox.served_app(host, allowed_hosts)
        self._config = uvicorn.Config(app, host=host, port=port, **options)
        self._server = uvicorn.Server(self._config)
        self._thread = threading.Thread(
            target=self._server.run, name="pacspace-sandbox", daemon=True
        )
        self.url = ""

    def __enter__(self) -> SandboxServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the sandbox server did not start")
            time.sleep(0.01)
        socket = self._server.servers[0].sockets[0]
        host, port = socket.getsockname()[:2]
        scheme = "https" if self._config.ssl_certfile else "http"
        self.url = f"{scheme}://{host}:{port}"
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
