"""Client settings: where the key and the base URL come from, and how they are shown.

Resolution follows the official client, plus the quick start's environment variables:
the key is the argument or ``PACSPACE_API_KEY``; the base URL is ``base_url``, else
``PACSPACE_API_BASE_URL``, else chosen by the key's prefix (``sandbox_url`` for
``pk_test_``, ``production_url`` for ``pk_live_``, both defaulting to production, which
routes by key). The key is never part of a ``repr``.
"""

from __future__ import annotations

import os
import re
import ssl
from dataclasses import dataclass, field
from urllib.parse import urlsplit
from urllib.request import (  # type: ignore[attr-defined]  # both are public, untyped
    getproxies_environment,
    proxy_bypass_environment,
)

import httpx

from ._backends import HttpBackend
from ._client_options import ClientOptions
from ._errors import PacSpaceError, ValidationError
from ._time import client_timeout, from_ms
from ._version import __version__

__all__ = [
    "DEFAULT_PRODUCTION_URL",
    "ClientArguments",
    "ClientConfig",
    "ClientOptions",
    "HttpBackend",
]


class ClientArguments(ClientOptions, total=False):
    api_key: str | None


def seed_arguments(api_key: str | None, options: ClientOptions) -> ClientArguments:
    """The constructor's arguments for ``PacSpace.init``: a number ``timeout`` is
    milliseconds there, as in pacspace-sdk (a ``timedelta`` or ``httpx.Timeout`` says its
    own unit)."""
    arguments: ClientArguments = {**options, "api_key": api_key}
    timeout = arguments.get("timeout")
    if timeout is not None and not isinstance(timeout, httpx.Timeout):
        arguments["timeout"] = from_ms(timeout, "timeout")
    return arguments


DEFAULT_PRODUCTION_URL = "https://app.pacspace.io"
DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_RETRIES = 2
DEFAULT_MAX_RESPONSE_BYTES = 16 * 2**20
"""Answers larger than this (after decompression) are refused: 16 MiB."""
USER_AGENT = f"pacspace-python-async/{__version__}"
_KEY = re.compile(r"^[\x21-\x7e]{1,512}$")


@dataclass(frozen=True)
class ClientConfig:
    api_key: str = field(repr=False)
    base_url: str
    timeout: httpx.Timeout
    max_retries: int
    chain_id: int | None
    credit_pool_id: int | None
    proxy: str | None = field(default=None, repr=False)
    ssl_context: ssl.SSLContext | None = field(default=None, repr=False)
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES

    @classmethod
    def resolve(cls, api_key: str | None, options: ClientOptions) -> ClientConfig:
        """The settings of a client built with ``api_key`` and ``options`` (the
        constructor's keywords, as given; an option left out takes its default)."""
        base_url = options.get("base_url")
        timeout = options.get("timeout")
        max_retries = options.get("max_retries", DEFAULT_MAX_RETRIES)
        chain_id = options.get("chain_id")
        credit_pool_id = options.get("credit_pool_id")
        max_response_bytes = options.get("max_response_bytes", DEFAULT_MAX_RESPONSE_BYTES)
        key = api_key or os.environ.get("PACSPACE_API_KEY")
        if not key:
            raise PacSpaceError(
                "No API key: pass api_key='pk_test_…' or set PACSPACE_API_KEY.",
                0,
                "MISSING_API_KEY",
            )
        if not isinstance(key, str) or not _KEY.match(key):
            # Never echo it: the message must not carry what may be a secret.
            raise ValidationError(
                "api_key must be printable ASCII without spaces or control characters",
                field="api_key",
            )
        url = (
            base_url
            or os.environ.get("PACSPACE_API_BASE_URL")
            or _by_prefix(key, options.get("sandbox_url"), options.get("production_url"))
        )
        url = url.rstrip("/")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValidationError(
                f"base_url must be an absolute http(s) URL, not {url!r}", field="base_url"
            )
        if parts.username or parts.password:
            raise ValidationError("base_url must not include credentials", field="base_url")
        max_retries = cls.retries(max_retries)
        for name, value in (("chain_id", chain_id), ("credit_pool_id", credit_pool_id)):
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 0
            ):
                raise ValidationError(f"{name} must be an integer >= 0", field=name)
        if chain_id is None:
            chain_id = (
                296 if key.startswith("pk_test_") else 295 if key.startswith("pk_live_") else None
            )
        if (
            isinstance(max_response_bytes, bool)
            or not isinstance(max_response_bytes, int)
            or max_response_bytes < 1024
        ):
            raise ValidationError(
                "max_response_bytes must be an integer of at least 1024", field="max_response_bytes"
            )
        return cls(
            api_key=key,
            base_url=url,
            timeout=client_timeout(timeout, DEFAULT_TIMEOUT),
            max_retries=max_retries,
            chain_id=chain_id,
            credit_pool_id=credit_pool_id,
            proxy=_proxy(options.get("proxy"), parts.scheme, parts.hostname or ""),
            ssl_context=_ssl_context(options.get("verify", True)),
            max_response_bytes=max_response_bytes,
        )

    @staticmethod
    def retries(value: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValidationError("max_retries must be an integer >= 0", field="max_retries")
        return value

    @property
    def environment(self) -> str:
        return "sandbox" if self.api_key.startswith("pk_test_") else "production"


def _by_prefix(key: str, sandbox_url: str | None, production_url: str | None) -> str:
    if key.startswith("pk_test_"):
        return sandbox_url or DEFAULT_PRODUCTION_URL
    return production_url or DEFAULT_PRODUCTION_URL


def _proxy(proxy: str | None, scheme: str, host: str) -> str | None:
    """``proxy``, else the environment's for our one host (``HTTPS_PROXY``, ``HTTP_PROXY``,
    ``ALL_PROXY``, minus ``NO_PROXY``), read once, as httpx and aiohttp's ``trust_env`` do."""
    if proxy is not None:
        if not isinstance(proxy, str) or urlsplit(proxy).scheme not in ("http", "https"):
            raise ValidationError("proxy must be an http:// or https:// URL", field="proxy")
        return proxy
    found = getproxies_environment()
    if not found or proxy_bypass_environment(host, found):
        return None
    return found.get(scheme) or found.get("all") or None


def _ssl_context(verify: bool | str | ssl.SSLContext) -> ssl.SSLContext | None:
    """``True``: the system's trust store (``None``: the backend's default); a path: a CA
    bundle (file or folder); an ``ssl.SSLContext``: as given; ``False``: no verification."""
    if isinstance(verify, ssl.SSLContext):
        return verify
    if verify is True:
        return None
    if verify is False:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    if isinstance(verify, (str, os.PathLike)):
        path = os.fspath(verify)
        try:
            if os.path.isdir(path):
                return ssl.create_default_context(capath=path)
            return ssl.create_default_context(cafile=path)
        except (OSError, ssl.SSLError) as exc:
            raise ValidationError(
                f"verify: cannot load CA certificates from {path!r} ({exc})", field="verify"
            ) from None
    raise ValidationError(
        "verify must be True, False, a CA bundle path or an ssl.SSLContext", field="verify"
    )
