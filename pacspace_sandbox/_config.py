"""Sandbox settings, one dataclass shared by the CLI, the pytest plugin and tests."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ._guard import is_loopback

__all__ = ["DEFAULT_DASHBOARD_USER", "SandboxConfig", "new_api_key"]

DEFAULT_DASHBOARD_USER = ("you@example.com", "your-secure-password")
"""The quick start's credentials, so its curl steps work verbatim."""


def new_api_key(environment: str = "test") -> str:
    """A fresh key in the documented ``pk_test_PUBLIC.SECRET`` form."""
    return f"pk_{environment}_{secrets.token_hex(8)}.{secrets.token_hex(16)}"


@dataclass
class SandboxConfig:
    api_keys: list[str] = field(default_factory=list)
    """API keys the sandbox accepts (default: one new ``pk_test_`` key, ``Sandbox.api_key``)."""
    verify_latency: float = 1.0
    """Mean seconds from emit to verification."""
    latency_jitter: float = 0.2
    """Spread of the latency, as a fraction of it (0.2: ±20 %, uniform)."""
    fail_rate: float = 0.0
    """Share of deltas that end ``FAILED`` instead of ``VERIFIED`` (0 to 1)."""
    db: str = ":memory:"
    """SQLite file the ledger persists to (``:memory:``: gone with the sandbox)."""
    webhook_url: str | None = None
    """Where signed webhook deliveries go (``None``: none are sent)."""
    webhook_secret: str | None = None
    """The secret deliveries are signed with (needed with ``webhook_url``)."""
    dashboard_users: list[tuple[str, str]] = field(default_factory=lambda: [DEFAULT_DASHBOARD_USER])
    """(email, password) pairs that may log in to the dashboard and the inspector."""
    rate_limit: float | None = None
    """Requests per second per key before 429 (``None``: unlimited)."""
    plan_limit: int | None = None
    """Verified deltas per UTC month (the Free plan is 100; ``None``: unlimited)."""
    seed: int | None = None
    """Seed of the latency spread and the failures (``None``: different every run)."""
    clock: Callable[[], float] = time.time
    """Epoch seconds now (tests move time by hand with their own clock)."""
    webhook_transport: Any = None
    """An ``httpx`` transport for deliveries (tests deliver in-process with it)."""

    def __post_init__(self) -> None:
        if not self.api_keys:
            self.api_keys = [new_api_key()]
        if not 0.0 <= self.fail_rate <= 1.0:
            raise ValueError("fail_rate must be between 0 and 1")
        if self.verify_latency < 0:
            raise ValueError("verify_latency must be >= 0")
        if self.webhook_url and not self.webhook_secret:
            raise ValueError("webhook_url needs webhook_secret")

    def check_served_on(self, host: str) -> None:
        """Refuse (``ValueError``, saying why) to serve beyond loopback with the documented
        dashboard password: anyone who can reach the address could log in and mint keys."""
        if is_loopback(host) or DEFAULT_DASHBOARD_USER not in self.dashboard_users:
            return
        email, password = DEFAULT_DASHBOARD_USER
        raise ValueError(
            f"refusing to serve on {host} with the documented dashboard password "
            f"({email} / {password}): anyone who can reach this address could log in and "
            "mint API keys. Set your own dashboard user (--dashboard-user EMAIL:PASSWORD, "
            "or SandboxConfig(dashboard_users=[...])), or serve on 127.0.0.1."
        )
