"""One request, start to finish: headers, body, envelope, error mapping, retries.

Resources hand this module a method, a path and a body; it returns the ``data`` of the
answer or raises a :class:`~pacspace_async.PacSpaceError`. Everything about HTTP lives
here so that resources stay short and the retry rules are applied in exactly one place.

Three rules make retries safe:

* every POST carries an ``Idempotency-Key`` made once per logical call (or the caller's),
  and every retry of that call sends the same key, so a request the server committed
  before the connection dropped is answered, not recorded twice;
* a ``202 IDEMPOTENCY_PENDING`` means the server is still working on that key: it is
  waited out and the final answer returned;
* a 429 pauses the whole client until its ``Retry-After`` has passed, so a burst of
  concurrent calls backs off together instead of hammering a limited server.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import quote, urlencode, urlsplit

import httpx
from anyio import sleep
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from . import _json
from ._answer import pending_seconds, read
from ._backends import (
    MAX_CONNECTIONS,
    Backend,
    CallableBackend,
    ClientBackend,
    ConnectionFailed,
    Reply,
    TimedOut,
    TooLarge,
    TransportCallable,
    UnsupportedEncoding,
    open_backend,
)
from ._config import USER_AGENT, ClientConfig
from ._errors import (
    APIConnectionError,
    APITimeoutError,
    PacSpaceError,
)
from ._inflight import Closed, InFlight, QueueTimeout
from ._options import NO_OVERRIDES, RequestOptions, new_idempotency_key
from ._retry import backoff, is_retryable
from ._secrets import redact_in
from ._telemetry import log, route_of, telemetry
from .types import Answer, RawResponse

__all__ = ["Transport", "query", "segment"]


class _Call:
    """One logical request across its attempts: what each attempt sends, and what its
    log lines and span report."""

    __slots__ = (
        "attempts",
        "bound",
        "content",
        "headers",
        "method",
        "path",
        "raw",
        "reply",
        "route",
        "status",
        "timeout",
        "url",
    )

    def __init__(
        self,
        method: str,
        url: str,
        path: str,
        headers: dict[str, str],
        content: bytes | None,
        timeout: dict[str, float | None],
        bound: float | None,
        raw: bool,
    ) -> None:
        self.method = method
        self.url = url
        self.path = path
        self.route = route_of(path)
        self.headers = headers
        self.content = content
        self.timeout = timeout
        self.bound = bound
        self.raw = raw
        self.attempts = 0
        self.status = 0
        self.reply: Reply | None = None


PENDING_WAIT_LIMIT: Final = 60.0
"""How long a ``202 IDEMPOTENCY_PENDING`` is waited out before giving up (seconds)."""
DEFAULT_PAUSE: Final = 1.0
"""How long a 429 without ``Retry-After`` pauses the client (seconds)."""

_NO_BODY: Final[Any] = object()


def segment(value: str) -> str:
    """A path segment, percent-encoded as the official client does (nothing is safe).

    ``.`` and ``..`` are encoded too (``%2E``): left as they are, they are path steps,
    and ``customer("..")`` would reach another endpoint."""
    encoded = quote(value, safe="")
    return encoded.replace(".", "%2E") if encoded in (".", "..") else encoded


def _bound(timeout: Mapping[str, float | None]) -> float | None:
    """The longest phase bound: one attempt, end to end (connect, send, headers, body),
    stays within it, so a server dripping bytes cannot hold a call longer than that."""
    return max((v for v in timeout.values() if v is not None), default=None)


def query(params: Mapping[str, Any]) -> str:
    """``?a=1&b=2`` with ``None`` values left out; empty when nothing is left."""
    compact = {key: _query_value(value) for key, value in params.items() if value is not None}
    return "?" + urlencode(compact, doseq=True) if compact else ""


def _query_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


class Transport:
    """Sends the requests of one client through one backend (one connection pool)."""

    def __init__(
        self,
        config: ClientConfig,
        http_client: httpx.AsyncClient | None = None,
        *,
        http_backend: str = "auto",
        transport: TransportCallable | None = None,
    ) -> None:
        self.config = config
        self._owns_backend = http_client is None and transport is None
        self._backend: Backend
        if transport is not None:
            self._backend = CallableBackend(transport)
        elif http_client is not None:
            self._backend = ClientBackend(http_client)
        else:
            self._backend = open_backend(
                http_backend, proxy=config.proxy, ssl_context=config.ssl_context
            )
        self.close_reason = "The client is closed."
        self._timeout = config.timeout.as_dict()
        self._bound = _bound(self._timeout)
        common = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
        if config.chain_id is not None:
            common["X-Chain-Id"] = str(config.chain_id)
        if config.credit_pool_id is not None:
            common["X-Credit-Pool-Id"] = str(config.credit_pool_id)
        self._public_headers = common
        self._headers = {**common, "X-Api-Key": config.api_key}
        self._paused_until = 0.0
        self._host = urlsplit(config.base_url).hostname or ""
        self._closed = False
        self._parent: Transport | None = None
        self._flight = InFlight(MAX_CONNECTIONS)

    @property
    def backend(self) -> Backend:
        return self._backend

    def with_config(self, config: ClientConfig) -> Transport:
        """A transport on the same connections with other settings (``with_options``):
        it never closes them, and is closed when this one is."""
        twin = copy.copy(self)
        twin.config = config
        twin._timeout = config.timeout.as_dict()
        twin._bound = _bound(twin._timeout)
        twin._owns_backend = False
        twin._parent = self
        return twin

    def _closing_reason(self) -> str:
        parent = self._parent
        return (
            parent._closing_reason() if parent is not None and parent.closed else self.close_reason
        )

    @property
    def closed(self) -> bool:
        return self._closed or (self._parent is not None and self._parent.closed)

    async def aclose(self) -> None:
        """Nothing starts after this; attempts in flight are cancelled (their callers
        get ``CLIENT_CLOSED``) and have unwound before the connections close."""
        self._closed = True
        if self._parent is None:
            await self._flight.close()
        if self._owns_backend:
            await self._backend.aclose()

    # -- the pipeline ---------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = _NO_BODY,
        options: RequestOptions = NO_OVERRIDES,
        authenticated: bool = True,
        raw: bool = False,
    ) -> Answer:
        """Send one logical call (with its retries): the answer's ``data`` (``raw``: the
        body's bytes) and its HTTP status and headers.

        ``path`` already carries its query string.
        """
        if self.closed:
            raise self._closed_error(path)
        headers = self._headers_for(method, options, authenticated)
        content = None if body is _NO_BODY else _json.dumps(body).encode()
        if options.timeout is None:
            timeout, bound = self._timeout, self._bound
        else:
            timeout = httpx.Timeout(options.timeout).as_dict()
            bound = _bound(timeout)
        url = self.config.base_url + path
        retries = self.config.max_retries if options.max_retries is None else options.max_retries
        call = _Call(method, url, path, headers, content, timeout, bound, raw)
        span = None
        scope = (
            telemetry.request_span(method, call.route, self._host) if telemetry.tracing else None
        )
        if scope is not None:
            span = scope.__enter__()
        try:
            try:
                # The first attempt inline (no retry machinery until one is needed).
                data = await self._once(call)
            except PacSpaceError as exc:
                if retries == 0 or not is_retryable(exc):
                    raise
                data = await self._retried(call, retries, exc)
        except PacSpaceError as exc:
            telemetry.request_done(span, call.route, exc.status_code, call.attempts, exc.code)
            if scope is not None:
                scope.__exit__(type(exc), exc, exc.__traceback__)
            raise
        except BaseException as exc:  # cancelled: the span ends too
            if scope is not None:
                scope.__exit__(type(exc), exc, exc.__traceback__)
            raise
        telemetry.request_done(span, call.route, call.status, call.attempts, None)
        if scope is not None:
            scope.__exit__(None, None, None)
        reply = call.reply
        return Answer(
            data, None if reply is None else RawResponse(reply.status_code, reply.headers)
        )

    async def _retried(self, call: _Call, retries: int, first: PacSpaceError) -> Any:
        """Attempts after a retryable first failure: backoff, ``Retry-After``, tenacity."""
        await sleep(backoff(1, first))
        if retries == 1:
            return await self._once(call)
        retrying = AsyncRetrying(
            stop=stop_after_attempt(retries),
            wait=_wait_after_first,
            retry=retry_if_exception(is_retryable),
            sleep=sleep,
            reraise=True,
        )
        return await retrying(self._once, call)

    async def _once(self, call: _Call) -> Any:
        """One attempt: send, read, judge; logged as one line. The backend is awaited
        right here (no coroutine in between on the way of every emit)."""
        call.attempts += 1
        started = time.perf_counter()
        deadline = time.monotonic() + PENDING_WAIT_LIMIT
        try:
            while True:
                if self._paused_until:
                    wait = self._paused_until - time.monotonic()
                    if wait > 0:
                        await sleep(wait)
                flight = self._flight
                if self.closed:
                    raise self._closed_error(call.path)
                try:
                    scope = await flight.enter(call.timeout.get("pool"))
                except Closed:
                    raise self._closed_error(call.path) from None
                except QueueTimeout:
                    raise self._queue_timeout(call) from None
                try:
                    with scope:
                        reply = await self._backend.send(
                            call.method,
                            call.url,
                            call.headers,
                            call.content,
                            phases=call.timeout,
                            total=call.bound,
                            limit=self.config.max_response_bytes,
                        )
                except (TimedOut, ConnectionFailed, TooLarge, UnsupportedEncoding) as exc:
                    error, cause = self._failed(call, exc)
                    raise error from cause
                finally:
                    flight.leave(scope)
                if scope.cancelled_caught:
                    raise self._closed_error(call.path, in_flight=True)
                pending = self._judge_status(call, reply)
                if pending is None:
                    break
                # 202 IDEMPOTENCY_PENDING: the server is still working on this key.
                remaining = deadline - time.monotonic()
                if remaining <= 0 or pending > remaining:
                    raise PacSpaceError(
                        f"{call.method} {call.path}: the server was still processing this "
                        f"idempotency key after {PENDING_WAIT_LIMIT:.0f}s",
                        202,
                        "IDEMPOTENCY_PENDING",
                        call.path,
                    )
                await sleep(min(pending, remaining))
            call.status = reply.status_code
            data = self._answer(reply, call.path, call.raw)
        except PacSpaceError as exc:
            if log.isEnabledFor(logging.INFO):
                log.info(
                    "%s %s -> %s %s (attempt %d, %.1f ms)%s",
                    call.method,
                    call.route,
                    exc.status_code or "no answer",
                    exc.code,
                    call.attempts,
                    (time.perf_counter() - started) * 1000,
                    "; may retry" if is_retryable(exc) else "",
                )
            raise
        call.reply = reply
        if log.isEnabledFor(logging.INFO):
            log.info(
                "%s %s -> %d (attempt %d, %.1f ms)",
                call.method,
                call.route,
                reply.status_code,
                call.attempts,
                (time.perf_counter() - started) * 1000,
            )
        return data

    def _closed_error(self, path: str, *, in_flight: bool = False) -> PacSpaceError:
        message = self._closing_reason()
        if in_flight:
            message += (
                " It closed while this request was on the wire: the server may have"
                " acted on it (a retry with the same idempotency key is safe)."
            )
        return PacSpaceError(message, 0, "CLIENT_CLOSED", path)

    def _queue_timeout(self, call: _Call) -> APITimeoutError:
        wait = call.timeout.get("pool")
        return APITimeoutError(
            f"{call.method} {call.path}: no connection came free within the pool timeout"
            + (f" ({wait:g} s)" if wait is not None else "")
            + f"; {self._flight.capacity} requests were on the wire, more were waiting",
            0,
            None,
            call.path,
        )

    def _headers_for(
        self, method: str, options: RequestOptions, authenticated: bool
    ) -> dict[str, str]:
        headers = (self._headers if authenticated else self._public_headers).copy()
        if options is NO_OVERRIDES:  # the usual call: nothing but a key to add
            if method == "POST":
                headers["Idempotency-Key"] = new_idempotency_key()
            return headers
        options.write_headers(headers, method)
        return headers

    def _failed(self, call: _Call, exc: Exception) -> tuple[PacSpaceError, BaseException | None]:
        """The error for a backend's failure to get an answer, and the exception to chain
        it from: the HTTP library's own, for debugging (none for our own limits)."""
        method, path, bound = call.method, call.path, call.bound
        if isinstance(exc, TimedOut):
            return APITimeoutError(
                f"{method} {path}: no answer within the timeout"
                + (f" ({bound:g} s)" if bound is not None else ""),
                0,
                None,
                path,
            ), (exc.__cause__ or exc)
        if isinstance(exc, ConnectionFailed):
            return APIConnectionError(
                f"{method} {path}: connection failed ({self._redact(str(exc))})",
                0,
                None,
                path,
            ), (exc.__cause__ or exc)
        if isinstance(exc, TooLarge):
            return PacSpaceError(
                f"{method} {path}: the answer is larger than max_response_bytes "
                f"({self.config.max_response_bytes:,} bytes)",
                0,
                "RESPONSE_TOO_LARGE",
                path,
            ), None
        return PacSpaceError(
            f"{method} {path}: the answer is compressed as {exc}, which was not asked for",
            0,
            "INVALID_RESPONSE",
            path,
        ), None

    def _judge_status(self, call: _Call, response: Reply) -> float | None:
        """Refuse a redirect; seconds to wait for a ``202 IDEMPOTENCY_PENDING``, else
        ``None`` (the answer is final)."""
        if 300 <= response.status_code < 400:
            location = urlsplit(response.headers.get("location", "")).netloc or "elsewhere"
            raise PacSpaceError(
                f"{call.method} {call.path}: the server redirected to {location} (HTTP "
                f"{response.status_code}); redirects are never followed, so the API key "
                "never leaves the configured host: fix base_url",
                response.status_code,
                "REDIRECT_REFUSED",
                call.path,
            )
        return pending_seconds(response)

    def _redact(self, text: str) -> str:
        return redact_in(text, self.config.api_key)

    def _answer(self, reply: Reply, path: str, raw: bool) -> Any:
        try:
            return read(reply, path, raw, self.config.api_key)
        except PacSpaceError as exc:
            if exc.status_code in (429, 503):
                self._pause_for(exc, reply)
            raise

    def _pause_for(self, error: PacSpaceError, reply: Reply) -> None:
        """A 429 (or a 503 with ``Retry-After``) pauses every request of the client, so
        a burst backs off together; per-customer and plan limits pause nobody else."""
        if error.code in ("CADENCE_LIMIT", "PLAN_LIMIT_EXCEEDED"):
            return
        if error.status_code == 503 and "retry-after" not in reply.headers:
            return
        wait = error.retry_after
        until = time.monotonic() + (DEFAULT_PAUSE if wait is None else min(wait, 60.0))
        if until > self._paused_until:
            self._paused_until = until
            log.warning("rate limited: pausing all requests for %.2fs", until - time.monotonic())


def _wait_after_first(state: RetryCallState) -> float:
    exc = state.outcome.exception() if state.outcome is not None else None
    return backoff(state.attempt_number + 1, exc)
