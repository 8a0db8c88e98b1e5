"""Client settings: where the key and the base URL come from, and how they are shown.

Resolution follows the official client, plus the quick start's environment variables:
the key is the argument or ``PACSPACE_API_KEY``; the base URL is ``base_url``, else
``PACSPACE_API_BASE_URL``, else chosen by the key's prefix (``sandbox_url`` for
``pk_test_``, ``production_url`` for ``pk_live_``, both defaulting to production, which
routes by key). The key is never part of a ``repr``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

from ._errors import PacSpaceError, ValidationError
from ._version import __version__

__all__ = ["DEFAULT_PRODUCTION_URL", "ClientConfig", "redact"]

DEFAULT_PRODUCTION_URL = "https://app.pacspace.io"
DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_RETRIES = 2
USER_AGENT = f"pacspace-python-async/{__version__}"
_MS_THRESHOLD = 1000


def redact(api_key: str) -> str:
    """``pk_test_…``: enough to tell environments apart, nothing an attacker can use."""
    for prefix in ("pk_test_", "pk_live_"):
        if api_key.startswith(prefix):
            return prefix + "…"
    return "…"


@dataclass(frozen=True)
class ClientConfig:
    api_key: str = field(repr=False)
    base_url: str
    timeout: httpx.Timeout
    max_retries: int
    chain_id: int | None
    credit_pool_id: int | None

    @classmethod
    def resolve(
        cls,
        api_key: str | None,
        *,
        base_url: str | None,
        sandbox_url: str | None,
        production_url: str | None,
        timeout: float | httpx.Timeout | None,
        max_retries: int,
        chain_id: int | None,
        credit_pool_id: int | None,
    ) -> ClientConfig:
        key = api_key or os.environ.get("PACSPACE_API_KEY")
        if not key:
            raise PacSpaceError(
                "No API key: pass api_key='pk_test_…' or set PACSPACE_API_KEY.",
                0,
                "MISSING_API_KEY",
            )
        if not isinstance(key, str) or key != key.strip() or any(c.isspace() for c in key):
            raise ValidationError("api_key must be a string without spaces", field="api_key")
        url = (
            base_url
            or os.environ.get("PACSPACE_API_BASE_URL")
            or _by_prefix(key, sandbox_url, production_url)
        )
        url = url.rstrip("/")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValidationError(
                f"base_url must be an absolute http(s) URL, not {url!r}", field="base_url"
            )
        if parts.username or parts.password:
            raise ValidationError("base_url must not include credentials", field="base_url")
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise ValidationError("max_retries must be an integer >= 0", field="max_retries")
        if chain_id is None:
            chain_id = (
                296 if key.startswith("pk_test_") else 295 if key.startswith("pk_live_") else None
            )
        return cls(
            api_key=key,
            base_url=url,
            timeout=_timeout(timeout),
            max_retries=max_retries,
            chain_id=chain_id,
            credit_pool_id=credit_pool_id,
        )

    @property
    def environment(self) -> str:
        return "sandbox" if self.api_key.startswith("pk_test_") else "production"


def _by_prefix(key: str, sandbox_url: str | None, production_url: str | None) -> str:
    if key.startswith("pk_test_"):
        return sandbox_url or DEFAULT_PRODUCTION_URL
    return production_url or DEFAULT_PRODUCTION_URL


def _timeout(value: float | httpx.Timeout | None) -> httpx.Timeout:
    """Seconds; an int of 1000 or more is the official client's milliseconds (30_000)."""
    if value is None:
        return httpx.Timeout(DEFAULT_TIMEOUT)
    if isinstance(value, httpx.Timeout):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ValidationError(
            f"timeout must be a number of seconds > 0, not {value!r}", field="timeout"
        )
    seconds = value / 1000 if isinstance(value, int) and value >= _MS_THRESHOLD else float(value)
    return httpx.Timeout(seconds)
