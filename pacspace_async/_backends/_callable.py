"""pacspace-sdk's ``transport=``: a callable the caller owns does the HTTP.

``fn(method, url, headers, body, timeout_ms)`` gets the request as pacspace-sdk sends it
(an absolute URL, a dict of headers, the JSON body as ``json.dumps`` writes it or
``None``, the timeout in milliseconds) and returns an object with ``status_code``,
``headers`` (a dict) and ``body`` (bytes). Teams fake the service with it in their tests,
or route requests through their own code. A plain function runs in a worker thread (it
may block); an ``async def`` one is awaited on the client's loop. Whatever it raises is
a connection failure, retried as one.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

import anyio.to_thread
import httpx
import simplejson

from .. import _json
from ._base import ConnectionFailed, Reply, TimedOut, TooLarge

__all__ = ["CallableBackend", "TransportCallable", "TransportResponse"]


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
        try:
            with anyio.fail_after(total):
                if self._async:
                    answer = await self._fn(*arguments)  # type: ignore[misc]
                else:
                    answer = await anyio.to_thread.run_sync(self._fn, *arguments)
                    if inspect.isawaitable(answer):
                        answer = await answer
        except TimeoutError as exc:
            raise TimedOut(str(exc) or "the transport callable did not answer in time") from exc
        except Exception as exc:  # the callable's own failure: no answer
            raise ConnectionFailed(f"transport callable failed: {exc!r}") from exc
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
