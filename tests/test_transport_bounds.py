"""A caller's ``transport=`` callable is bounded like any backend: by the attempt's
timeout (a blocking one too), and whatever it raises becomes a ``PacSpaceError`` whose
message and chain carry no secret."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import traceback
from collections.abc import Iterator
from typing import Any

import pytest

import pacspace_async
import pacspace_sync

from .test_transport_option import BASE, KEY, FakeService

SECRET = KEY.split("_", 2)[-1]


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """Set at the end of the test: a blocked callable's thread then finishes."""
    event = threading.Event()
    yield event
    event.set()


def _chain(exc: BaseException | None) -> Iterator[BaseException]:
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def test_a_blocking_callable_is_bounded_by_the_timeout(
    release: threading.Event, caplog: pytest.LogCaptureFixture
) -> None:
    def stuck(*args: Any) -> Any:
        release.wait(20)  # a callable that does not answer (till the test ends)
        return FakeService()(*args)

    pac = pacspace_sync.PacSpace(KEY, base_url=BASE, transport=stuck, timeout=0.3, max_retries=0)
    try:
        started = time.monotonic()
        with pytest.raises(pacspace_sync.APITimeoutError):
            pac.balance.usage()
        assert time.monotonic() - started < 5
    finally:
        pac.close()
    assert "did not answer within 0.3 s" in caplog.text and "discarded" in caplog.text


async def test_a_blocking_callable_is_bounded_in_the_async_client_too(
    release: threading.Event,
) -> None:
    def stuck(*args: Any) -> Any:
        release.wait(20)
        return FakeService()(*args)

    async with pacspace_async.PacSpace(
        KEY, base_url=BASE, transport=stuck, timeout=0.3, max_retries=1
    ) as pac:
        started = time.monotonic()
        with pytest.raises(pacspace_async.APITimeoutError):
            await pac.balance.usage()
        assert time.monotonic() - started < 5  # two attempts of 0.3 s and a backoff


async def test_an_async_callable_is_cancelled_at_the_deadline() -> None:
    cancelled = asyncio.Event()

    async def slow(*args: Any) -> Any:
        try:
            await asyncio.sleep(20)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return FakeService()(*args)

    async with pacspace_async.PacSpace(
        KEY, base_url=BASE, transport=slow, timeout=0.2, max_retries=0
    ) as pac:
        with pytest.raises(pacspace_async.APITimeoutError):
            await pac.balance.usage()
    assert cancelled.is_set()


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_the_key_never_leaves_through_the_exception_chain(kind: str) -> None:
    def leaky(method: str, url: str, headers: dict[str, str], *rest: Any) -> Any:
        raise RuntimeError(f"could not send {headers!r}")

    async def leaky_async(*args: Any) -> Any:
        return leaky(*args)

    transport = leaky if kind == "sync" else leaky_async
    async with pacspace_async.PacSpace(
        KEY, base_url=BASE, transport=transport, max_retries=0
    ) as pac:
        with pytest.raises(pacspace_async.PacSpaceError) as caught:
            await pac.balance.usage()
    logged = "".join(traceback.format_exception(caught.value))  # what logging.exception prints
    assert "RuntimeError" in logged and "could not send" in logged  # kept by type and message
    assert SECRET not in logged
    for link in _chain(caught.value):
        assert SECRET not in repr(link.args) and SECRET not in str(link)
    assert not any(isinstance(link, RuntimeError) for link in _chain(caught.value))


@pytest.mark.parametrize("raised", [GeneratorExit, asyncio.CancelledError])
@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_whatever_a_callable_raises_is_a_pacspace_error(
    raised: type[BaseException], kind: str
) -> None:
    def odd(*args: Any) -> Any:
        raise raised()

    async def odd_async(*args: Any) -> Any:
        raise raised()

    async with pacspace_async.PacSpace(
        KEY, base_url=BASE, transport=odd if kind == "sync" else odd_async, max_retries=0
    ) as pac:
        with pytest.raises(pacspace_async.APIConnectionError, match=raised.__name__):
            await pac.balance.usage()


def test_the_blocking_client_turns_them_into_its_errors_too() -> None:
    def odd(*args: Any) -> Any:
        raise GeneratorExit

    pac = pacspace_sync.PacSpace(KEY, base_url=BASE, transport=odd, max_retries=0)
    with pac, pytest.raises(pacspace_sync.PacSpaceError):
        pac.balance.usage()


def test_a_callable_overrunning_is_logged_once_per_attempt(
    release: threading.Event, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="pacspace")

    def stuck(*args: Any) -> Any:
        release.wait(20)
        return FakeService()(*args)

    with (
        pacspace_sync.PacSpace(
            KEY, base_url=BASE, transport=stuck, timeout=0.2, max_retries=1
        ) as pac,
        pytest.raises(pacspace_sync.APITimeoutError),
    ):
        pac.balance.usage()
    overran = [r for r in caplog.records if "did not answer within" in r.getMessage()]
    assert len(overran) == 2 and all(r.levelno == logging.WARNING for r in overran)
