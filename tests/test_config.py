"""Where the key and URL come from."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import httpx
import pytest

import pacspace_async
import pacspace_sync
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
    # Keyword timeouts are seconds whatever the value: no threshold switches the unit.
    assert PacSpace("pk_test_a.b", timeout=999)._config.timeout.read == 999
    with pytest.warns(UserWarning, match="seconds"):
        assert PacSpace("pk_test_a.b", timeout=1000)._config.timeout.read == 1000
    with pytest.warns(UserWarning, match="seconds"):
        assert PacSpace("pk_test_a.b", timeout=1000.0)._config.timeout.read == 1000
    assert PacSpace("pk_test_a.b", timeout=timedelta(milliseconds=1500))._config.timeout.read == 1.5
    split = httpx.Timeout(5, connect=1)
    assert PacSpace("pk_test_a.b", timeout=split)._config.timeout is split
    # The seed-style constructor keeps pacspace-sdk's milliseconds, for every value.
    assert PacSpace.init("pk_test_a.b", timeout=30_000)._config.timeout.read == 30
    assert PacSpace.init("pk_test_a.b", timeout=999)._config.timeout.read == 0.999
    assert PacSpace.init("pk_test_a.b", timeout=timedelta(seconds=2))._config.timeout.read == 2
    with pytest.raises(pacspace_async.ValidationError) as caught:
        PacSpace("pk_test_a.b", timeout=0)
    assert caught.value.field == "timeout"


def test_the_blocking_init_reads_milliseconds_too() -> None:
    with pacspace_sync.PacSpace.init("pk_test_a.b", timeout=30_000) as pac:
        assert pac._runtime.client()._config.timeout.read == 30
    with pacspace_sync.PacSpace("pk_test_a.b", timeout=30) as pac:
        assert pac._runtime.client()._config.timeout.read == 30


async def test_per_call_and_wait_durations_have_one_unit_each(
    client_factory: Callable[..., PacSpace],
) -> None:
    pac = client_factory()
    delta = await pac.balance.emit("c", 1, "r", timeout=timedelta(seconds=5))
    done = await pac.balance.wait_for_verified(
        delta.record_id, timeout=timedelta(seconds=5), poll_interval=timedelta(seconds=1)
    )
    assert done.status == "VERIFIED"
    # An options dict speaks milliseconds, as pacspace-sdk's did.
    await pac.balance.emit("c", 1, "r", {"timeout": 5000})
    with pytest.raises(pacspace_async.ValidationError, match="poll_interval"):
        await pac.balance.wait_for_verified(delta.record_id, poll_interval=timedelta(0))


def test_auto_backend_prefers_aiohttp_when_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    from pacspace_async._backends import resolve_backend

    monkeypatch.delenv("PACSPACE_HTTP_BACKEND", raising=False)
    assert resolve_backend("auto") == "aiohttp"  # the dev install has the extra
    assert resolve_backend("httpx") == "httpx"
    monkeypatch.setenv("PACSPACE_HTTP_BACKEND", "httpx")
    assert resolve_backend("auto") == "httpx"
    with pytest.raises(pacspace_async.ValidationError):
        PacSpace("pk_test_a.b", http_backend="curl")
