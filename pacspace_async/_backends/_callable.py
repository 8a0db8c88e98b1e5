"""pacspace-sdk's ``transport=``: a callable the caller owns does the HTTP.

``fn(method, url, headers, body, timeout_ms)`` gets the request as pacspace-sdk sends it
(an absolute URL, a dict of headers, the JSON body as ``json.dumps`` writes it or
``None``, the timeout in milliseconds) and returns an object with ``status_code``,
``headers`` (a dict) and ``body`` (bytes). Teams fake the service with it in their tests,
or route requests through their own code. A plain function runs in a worker thread (it
may block) and is abandoned at the attempt's deadline (the call ends with the SDK's
timeout, a WARNING says the callable overran, and its late answer is discarded); an
``async def`` one is awaited on the client's loop and cancelled at the deadline. Whatever
it raises is a connection failure, retried as one, chained to a stand-in that keeps the
exception's type and a redacted message, never the exception itself.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import math
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

import anyio
import anyio.to_thread
import httpx
import simplejson

from .. import _json
from .._aio import async_library
from .._secrets import redact_in
from ._base import ConnectionFailed, Reply, TimedOut, TooLarge

__all__ = ["CallableBackend", "CallableFailure", "TransportCallable", "TransportResponse"]

log = logging.getLogger("pacspace")


class TransportResponse(Protocol):
    """What a ``transport=`` callable returns (pacspace-sdk's ``TransportResponse`` fits)."""

    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    @property
    def body(self) -> bytes | str: ...


TransportCallable = Callable[
    [str, str, dict[str, str], str | None, int],
    TransportResponse | Awaitable[TransportResponse],
]
"""``fn(method, url, headers, body, timeout_ms)``, plain or ``async def``."""


def is_async(fn: Callable[..., Any]) -> bool:
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None)  # noqa: B004 - an object with an async __call__
    )


class CallableFailure(Exception):
    """What a transport callable raised, by type and redacted message: the original is
    not kept, since its arguments may hold the request's headers."""


_SECRET_HEADERS = ("x-api-key", "authorization", "cookie", "proxy-authorization")


def _stand_in(exc: BaseException, headers: Mapping[str, str]) -> CallableFailure:
    message = str(exc)
    for name, value in headers.items():
        if name.lower() in _SECRET_HEADERS and value:
            for secret in {value, value.split(" ", 1)[-1]}:
                if len(secret) >= 4:
                    message = redact_in(message, secret)
    kind = type(exc).__qualname__
    return CallableFailure(f"{kind}: {message}" if message else kind)


def _cancelled(exc: BaseException) -> bool:
    """Whether ``exc`` is this task being cancelled (not a callable raising
    ``CancelledError`` of its own accord)."""
    if not isinstance(exc, anyio.get_cancelled_exc_class()):
        return False
    if async_library() != "asyncio":
        return True  # trio's Cancelled comes only from a cancel scope
    task = asyncio.current_task()
    cancelling = getattr(task, "cancelling", None)
    return cancelling is None or bool(cancelling())


def _name(fn: Callable[..., Any]) -> str:
    return getattr(fn, "__qualname__", None) or type(fn).__qualname__


class CallableBackend:
    def __init__(self, fn: TransportCallable) -> None:
        self._fn = fn
        self._async = is_async(fn)

    async def send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        content: bytes | None,
        *,
        phases: Mapping[str, float | None],
        total: float | None,
        limit: int,
    ) -> Reply:
        # The body as pacspace-sdk writes it (json.dumps' separators), exact numbers kept.
        body = (
            None
            if content is None
            else simplejson.dumps(_json.loads(content), use_decimal=True, ensure_ascii=True)
        )
        timeout_ms = 30_000 if total is None else max(1, math.ceil(total * 1000))
        arguments = (method, url, dict(headers), body, timeout_ms)
        failure: BaseException | None = None
        try:
            with anyio.fail_after(total):
                if self._async:
                    answer = await self._fn(*arguments)  # type: ignore[misc]
                else:
                    # Abandoned at the deadline: the thread is left to finish on its own,
                    # its answer discarded; the call ends with the SDK's timeout now.
                    answer = await anyio.to_thread.run_sync(
                        self._fn, *arguments, abandon_on_cancel=True
                    )
                    if inspect.isawaitable(answer):
                        answer = await answer
        except TimeoutError:
            if not self._async:
                log.warning(
                    "the transport callable %s did not answer within %.3g s: the call ends "
                    "with a timeout; its thread is left to finish and its answer discarded",
                    _name(self._fn),
                    total,
                )
            failure = TimedOut("the transport callable did not answer in time")
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # the callable's own failure: no answer
            if _cancelled(exc):
                raise
            failure = _stand_in(exc, headers)
        if failure is not None:
            # Raised outside the handler: nothing chains to the callable's own exception,
            # whose arguments may hold the request's headers (the API key).
            if isinstance(failure, TimedOut):
                raise failure
            raise ConnectionFailed(f"transport callable failed: {failure}") from failure
        try:
            status = int(answer.status_code)
            raw = answer.body
            data = raw.encode("utf-8") if isinstance(raw, str) else bytes(raw or b"")
            found = httpx.Headers(dict(answer.headers or {}))
        except (AttributeError, TypeError, ValueError) as exc:
            raise ConnectionFailed(
                "the transport callable must return an object with status_code, headers "
                f"and body: {exc}"
            ) from None
        if len(data) > limit:
            raise TooLarge
        return Reply(status, found, data)

    async def aclose(self) -> None:
        """The callable is the caller's: nothing to release."""
