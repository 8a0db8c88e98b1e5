"""Where the key and URL come from."""

from __future__ import annotations

import pytest

import pacspace_async
from pacspace_async import PacSpace


def test_environment_fallbacks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PACSPACE_API_KEY", "pk_test_env.key")
    monkeypatch.setenv("PACSPACE_API_BASE_URL", "http://127.0.0.1:8787/")
    pac = PacSpace()
    assert pac.base_url == "http://127.0.0.1:8787" and pac.environment == "sandbox"
    assert PacSpace(base_url="https://explicit").base_url == "https://explicit"


def test_prefix_detection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PACSPACE_API_BASE_URL", raising=False)
    assert PacSpace.init("pk_test_a.b").base_url == "https://app.pacspace.io"
    assert (
        PacSpace("pk_test_a.b", sandbox_url="https://sb.example").base_url == "https://sb.example"
    )
    assert (
        PacSpace("pk_live_a.b", production_url="https://prod.example").base_url
        == "https://prod.example"
    )
    assert PacSpace("pk_live_a.b")._config.chain_id == 295
    assert PacSpace("pk_test_a.b")._config.chain_id == 296
    assert PacSpace("pk_test_a.b", chain_id=1)._config.chain_id == 1


def test_timeout_units() -> None:
    assert PacSpace("pk_test_a.b", timeout=5)._config.timeout.read == 5
    assert (
        PacSpace("pk_test_a.b", timeout=30_000)._config.timeout.read == 30
    )  # the official client's ms


def test_auto_backend_prefers_aiohttp_when_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    from pacspace_async._backends import resolve_backend

    monkeypatch.delenv("PACSPACE_HTTP_BACKEND", raising=False)
    assert resolve_backend("auto") == "aiohttp"  # the dev install has the extra
    assert resolve_backend("httpx") == "httpx"
    monkeypatch.setenv("PACSPACE_HTTP_BACKEND", "httpx")
    assert resolve_backend("auto") == "httpx"
    with pytest.raises(pacspace_async.ValidationError):
        PacSpace("pk_test_a.b", http_backend="curl")
