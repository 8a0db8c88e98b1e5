"""A faithful local PacSpace Balance API, in the spirit of stripe-mock and moto.

    sandbox = Sandbox(verify_latency=0)                      # in memory
    client = PacSpace(sandbox.api_key, base_url=IN_PROCESS_URL,
                      http_client=httpx.AsyncClient(transport=sandbox.transport()))

or ``pacspace sandbox`` for a loopback server. The pytest plugin hands out both.
"""

from ._app import create_app
from ._config import SandboxConfig, new_api_key
from ._ledger import Ledger
from ._sandbox import IN_PROCESS_URL, Sandbox, SandboxServer
from ._scope import MAX_WINDOW_DAYS

__all__ = [
    "IN_PROCESS_URL",
    "MAX_WINDOW_DAYS",
    "Ledger",
    "Sandbox",
    "SandboxConfig",
    "SandboxServer",
    "create_app",
    "new_api_key",
]
