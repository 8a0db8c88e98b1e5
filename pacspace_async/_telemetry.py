"""What the SDK shows of itself: one log line per attempt, and OpenTelemetry when installed.

Logs go to the ``pacspace`` logger: one INFO line per HTTP attempt (method, route, status
or error code, attempt number, latency), never a key, a header or a body.
``PACSPACE_LOG=info`` (or ``debug``) prints them to stderr without any logging setup, as
``OPENAI_LOG`` and ``STRIPE_LOG`` do.

With ``pacspace[otel]`` (the OpenTelemetry API) each logical request is a CLIENT span
(attempts and retries included) and these instruments report to whatever providers the
application configured: ``pacspace.requests``, ``pacspace.retries``, ``pacspace.emits``
(counters), ``pacspace.summary.delivery_lag`` (seconds from a summary's window end to its
acknowledgement: how far a drain runs behind), and the gauges ``pacspace.waits.pending``,
``pacspace.summaries.queued`` and ``pacspace.outbox.depth``. Without it every hook is a
no-op that costs one attribute check.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import re
import sys
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
    from opentelemetry.metrics import CallbackOptions, Observation
    from opentelemetry.trace import Span

__all__ = ["Telemetry", "log", "route_of", "setup_logging", "telemetry", "watch"]

log = logging.getLogger("pacspace")

_TEMPLATES = [
    (re.compile(pattern), route)
    for pattern, route in [
        (r"^/api/v1/balance/delta/batch$", "/api/v1/balance/delta/batch"),
        (r"^/api/v1/balance/delta/[^/]+$", "/api/v1/balance/delta/{recordId}"),
        (r"^/api/v1/balance/(derive|receipt|invoice-proof|gaps)/[^/]+$", None),
        (r"^/api/v1/balance/customers/[^/]+$", "/api/v1/balance/customers/{customerId}"),
        (r"^/api/v1/balance/webhooks/[^/]+/retry$", "/api/v1/balance/webhooks/{eventId}/retry"),
        (r"^/api/v1/balance/receipts/[^/]+/pdf$", "/api/v1/balance/receipts/{receiptId}/pdf"),
        (r"^/api/v1/balance/receipts/[^/]+$", "/api/v1/balance/receipts/{receiptId}"),
        (r"^/api/v1/verify/[^/]+$", "/api/v1/verify/{proofRoot}"),
    ]
]


@functools.lru_cache(maxsize=1024)
def route_of(path: str) -> str:
    """The path's template (``/api/v1/balance/delta/{recordId}``): what logs and spans
    name, so that ids never become span names or metric labels. The query is dropped."""
    path = path.split("?", 1)[0]
    for pattern, route in _TEMPLATES:
        found = pattern.match(path)
        if found:
            return route or f"/api/v1/balance/{found.group(1)}/{{customerId}}"
    return path


@functools.lru_cache(maxsize=512)
def _attributes(*pairs: str) -> dict[str, str]:
    """A metric's attributes, made once per distinct set (routes and outcomes are few);
    the instruments only read them."""
    return dict(zip(pairs[::2], pairs[1::2], strict=True))


def setup_logging(level: str | None = None) -> None:
    """``PACSPACE_LOG=debug|info``: the ``pacspace`` logger prints to stderr at that level."""
    chosen = (level if level is not None else os.environ.get("PACSPACE_LOG", "")).lower()
    if chosen not in ("debug", "info"):
        return
    if not any(getattr(h, "_pacspace", False) for h in log.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("[%(asctime)s %(name)s %(levelname)s] %(message)s"))
        handler._pacspace = True  # type: ignore[attr-defined]
        log.addHandler(handler)
    log.setLevel(logging.DEBUG if chosen == "debug" else logging.INFO)


class Telemetry:
    """The OpenTelemetry instruments, or nothing when the API is not installed."""

    def __init__(self) -> None:
        self._tracing = False
        self._looked = -1.0
        self._waiters: weakref.WeakSet[Any] = weakref.WeakSet()
        self._queues: weakref.WeakSet[Any] = weakref.WeakSet()
        try:
            from opentelemetry import metrics, trace
        except ImportError:
            self.enabled = False
            return
        self.enabled = True
        self._trace = trace
        self._tracer = trace.get_tracer("pacspace", __version__)
        meter = metrics.get_meter("pacspace", __version__)
        self._requests = meter.create_counter(
            "pacspace.requests", unit="{request}", description="Logical requests, by outcome"
        )
        self._retries = meter.create_counter(
            "pacspace.retries", unit="{retry}", description="Attempts after the first"
        )
        self._emits = meter.create_counter(
            "pacspace.emits", unit="{delta}", description="Deltas emitted, by status"
        )
        self._lag = meter.create_histogram(
            "pacspace.summary.delivery_lag",
            unit="s",
            description="From a summary's window end to its acknowledgement",
        )
        meter.create_observable_gauge(
            "pacspace.waits.pending",
            [self._gauge(self._waiters, lambda waiter: waiter.pending)],
            unit="{delta}",
            description="Deltas waited on and not yet terminal",
        )
        meter.create_observable_gauge(
            "pacspace.summaries.queued",
            [self._gauge(self._queues, lambda queue: queue.depth, outbox=False)],
            unit="{summary}",
            description="Summaries held in memory, not yet delivered",
        )
        meter.create_observable_gauge(
            "pacspace.outbox.depth",
            [self._gauge(self._queues, lambda queue: queue.depth, outbox=True)],
            unit="{summary}",
            description="Summaries in an outbox, not yet delivered",
        )

    @staticmethod
    def _gauge(
        owners: weakref.WeakSet[Any], read: Callable[[Any], int], outbox: bool | None = None
    ) -> Callable[[CallbackOptions], Iterable[Observation]]:
        from opentelemetry.metrics import Observation

        def observe(options: CallbackOptions) -> Iterable[Observation]:
            total = 0
            for owner in list(owners):
                if outbox is None or (owner.store.location is not None) == outbox:
                    total += read(owner)
            return [Observation(total)]

        return observe

    # -- hooks -----------------------------------------------------------------------

    @property
    def tracing(self) -> bool:
        """Whether a tracer provider is set up: without one, no span is made at all (the
        API's proxy would make a non-recording one, for microseconds a request). Once set
        up it stays; until then it is looked for at most once a second."""
        if self._tracing or not self.enabled:
            return self._tracing
        now = time.monotonic()
        if now - self._looked < 1.0:
            return False
        self._looked = now
        self._tracing = not isinstance(
            self._trace.get_tracer_provider(), self._trace.ProxyTracerProvider
        )
        return self._tracing

    @contextlib.contextmanager
    def request_span(self, method: str, route: str, host: str) -> Iterator[Span | None]:
        kind = self._trace.SpanKind.CLIENT
        attributes = {"http.request.method": method, "http.route": route, "server.address": host}
        with self._tracer.start_as_current_span(
            f"{method} {route}", kind=kind, attributes=attributes, record_exception=False
        ) as span:
            yield span

    def request_done(
        self, span: Span | None, route: str, status: int, attempts: int, error: str | None
    ) -> None:
        if not self.enabled:
            return
        if span is not None:
            if status:
                span.set_attribute("http.response.status_code", status)
            span.set_attribute("pacspace.attempts", attempts)
            if error is not None:
                span.set_attribute("error.type", error)
                span.set_status(self._trace.Status(self._trace.StatusCode.ERROR, error))
        self._requests.add(1, _attributes("http.route", route, "outcome", error or "ok"))
        if attempts > 1:
            self._retries.add(attempts - 1, _attributes("http.route", route))

    def emitted(self, status: str) -> None:
        if self.enabled:
            self._emits.add(1, _attributes("status", status))

    def delivered(self, lags: Iterable[float]) -> None:
        if self.enabled:
            for lag in lags:
                self._lag.record(max(0.0, lag))

    def watch_waiter(self, waiter: Any) -> None:
        self._waiters.add(waiter)

    def watch_queue(self, queue: Any) -> None:
        self._queues.add(queue)


telemetry = Telemetry()


def watch(waiter: Any, queue: Any) -> None:
    """Report this client's pending waits and queue depth in the gauges."""
    telemetry.watch_waiter(waiter)
    telemetry.watch_queue(queue)
