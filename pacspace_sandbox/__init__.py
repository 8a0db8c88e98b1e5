"""A faithful local PacSpace Balance API, in the spirit of stripe-mock and moto.

    sandbox = Sandbox(verify_latency=0)                      # in memory
    client = PacSpace(sandbox.api_key, base_url=IN_PROCESS_URL,
                      http_client=httpx.AsyncClient(transport=sandbox.transport()))

or ``pacspace sandbox`` for a loopback server. The pytest plugin hands out both.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._app import create_app
    from ._config import SandboxConfig, new_api_key
    from ._ledger import Ledger
    from ._samples import SAMPLE_EVENTS
    from ._sandbox import IN_PROCESS_URL, Sandbox, SandboxServer
    from ._scope import MAX_WINDOW_DAYS

# Imported on first use (PEP 562): the pytest plugin lives in this package, and a project
# that installs pacspace without the sandbox extra must not pay for Starlette, or fail on it.
_LAZY = {
    "create_app": "._app",
    "SandboxConfig": "._config",
    "new_api_key": "._config",
    "Ledger": "._ledger",
    "SAMPLE_EVENTS": "._samples",
    "IN_PROCESS_URL": "._sandbox",
    "Sandbox": "._sandbox",
    "SandboxServer": "._sandbox",
    "MAX_WINDOW_DAYS": "._scope",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'pacspace_sandbox' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module, __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "IN_PROCESS_URL",
    "MAX_WINDOW_DAYS",
    "SAMPLE_EVENTS",
    "Ledger",
    "Sandbox",
    "SandboxConfig",
    "SandboxServer",
    "create_app",
    "new_api_key",
]
