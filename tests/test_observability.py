"""What the SDK shows of itself: a log line per attempt (``PACSPACE_LOG``), OpenTelemetry
spans and metrics (read back with the SDK's in-memory exporter and reader), the raw answer
behind a model, ``with_options`` and page iterators."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import pacspace_sync
from pacspace_async import PacSpace, PacSpaceError
from pacspace_async._telemetry import route_of, telemetry
from pacspace_sandbox import Sandbox

KEY = "pk_test_PUBLIC.SECRETPART"

SPANS = InMemorySpanExporter()
READER = InMemoryMetricReader()


@pytest.fixture(scope="module", autouse=True)
def otel() -> None:
    # The global providers can be set once per process; later modules see them too.
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(SPANS))
        trace.set_tracer_provider(provider)
        metrics.set_meter_provider(MeterProvider(metric_readers=[READER]))
    telemetry._looked = -1.0  # look for the provider on the next request, not a second later


@pytest.fixture(autouse=True)
def clear_spans() -> None:
    SPANS.clear()


def metric_points() -> dict[str, list[Any]]:
    data = READER.get_metrics_data()
    found: dict[str, list[Any]] = {}
    for resource in data.resource_metrics if data else []:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                found.setdefault(metric.name, []).extend(metric.data.data_points)
    return found


def flaky(statuses: list[int], headers: dict[str, str] | None = None) -> httpx.AsyncClient:
    """Answers each request with the next status (then 201), an emit answer as the body."""
    answers = iter(statuses)

    async def handler(request: httpx.Request) -> httpx.Response:
        status = next(answers, 201)
        if status >= 400:
            body = {"success": False, "error": {"code": "SERVICE_UNAVAILABLE", "message": "x"}}
            return httpx.Response(status, json=body, headers={"Retry-After": "0"})
        data = {"recordId": "r_1", "status": "QUEUED", "customerId": "c"}
        return httpx.Response(status, json={"success": True, "data": data}, headers=headers)

    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


def test_routes_never_carry_ids() -> None:
    assert route_of("/api/v1/balance/delta/rec_123") == "/api/v1/balance/delta/{recordId}"
    assert route_of("/api/v1/balance/delta/batch") == "/api/v1/balance/delta/batch"
    assert route_of("/api/v1/balance/derive/c%2F1?period=2026-01") == (
        "/api/v1/balance/derive/{customerId}"
    )
    assert route_of("/api/v1/balance/usage") == "/api/v1/balance/usage"


async def test_one_log_line_per_attempt_and_no_secret(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="pacspace")
    async with PacSpace(KEY, base_url="https://api.test", http_client=flaky([503])) as pac:
        await pac.balance.emit("c", 1, "usage")
    lines = [r.getMessage() for r in caplog.records if r.name == "pacspace"]
    attempts = [line for line in lines if line.startswith("POST /api/v1/balance/delta ->")]
    assert len(attempts) == 2, lines
    assert "503 SERVICE_UNAVAILABLE (attempt 1," in attempts[0] and "may retry" in attempts[0]
    assert "201 (attempt 2," in attempts[1] and " ms)" in attempts[1]
    assert not any("SECRETPART" in line for line in lines)


def test_pacspace_log_prints_to_stderr_without_any_setup() -> None:
    program = textwrap.dedent(
        f"""
        import asyncio, httpx
        from pacspace_async import PacSpace
        from pacspace_sandbox import IN_PROCESS_URL, Sandbox

        async def main():
            sandbox = Sandbox(verify_latency=0, api_keys=["{KEY}"])
            http = httpx.AsyncClient(transport=sandbox.transport())
            async with PacSpace("{KEY}", base_url=IN_PROCESS_URL, http_client=http) as pac:
                await pac.balance.emit("c", 1, "usage")
                await pac.balance.usage()

        asyncio.run(main())
        """
    )
    env = {**os.environ, "PACSPACE_LOG": "info"}
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "POST /api/v1/balance/delta -> 201 (attempt 1," in done.stderr
    assert "GET /api/v1/balance/usage -> 200 (attempt 1," in done.stderr
    assert "SECRETPART" not in done.stderr
    quiet = subprocess.run(
        [sys.executable, "-c", program],
        capture_output=True,
        text=True,
        env={k: v for k, v in env.items() if k != "PACSPACE_LOG"},
        timeout=60,
    )
    assert "POST /api/v1/balance/delta" not in quiet.stderr


async def test_a_span_per_request_with_its_attempts() -> None:
    async with PacSpace(KEY, base_url="https://api.test", http_client=flaky([503])) as pac:
        await pac.balance.emit("c", 1, "usage")
    (span,) = [s for s in SPANS.get_finished_spans() if s.name.startswith("POST")]
    assert span.name == "POST /api/v1/balance/delta"
    assert span.kind == trace.SpanKind.CLIENT
    assert span.attributes is not None
    assert span.attributes["http.response.status_code"] == 201
    assert span.attributes["pacspace.attempts"] == 2
    assert span.attributes["server.address"] == "api.test"
    assert "SECRETPART" not in str(span.to_json())


async def test_a_failed_request_is_an_error_span() -> None:
    client = flaky([503, 503, 503])
    async with PacSpace(KEY, base_url="https://api.test", http_client=client) as pac:
        with pytest.raises(PacSpaceError):
            await pac.balance.emit("c", 1, "usage")
    (span,) = SPANS.get_finished_spans()
    assert span.status.status_code == trace.StatusCode.ERROR
    assert span.attributes is not None and span.attributes["error.type"] == "SERVICE_UNAVAILABLE"


async def test_metrics_for_emits_retries_waits_and_queues(
    client_factory: Callable[..., PacSpace], pacspace_sandbox: Sandbox
) -> None:
    before = metric_points()
    async with PacSpace(KEY, base_url="https://api.test", http_client=flaky([503])) as pac:
        await pac.balance.emit("c", 1, "usage")
    points = metric_points()

    def total(name: str, since: dict[str, list[Any]]) -> float:
        return sum(p.value for p in points.get(name, [])) - sum(
            p.value for p in since.get(name, [])
        )

    assert total("pacspace.emits", before) == 1
    assert total("pacspace.retries", before) == 1
    assert "pacspace.waits.pending" in points

    pac = client_factory()
    pac.balance.queue_summary({"customerId": "c", "delta": 5, "reason": "usage"})
    queued = metric_points()["pacspace.summaries.queued"]
    assert sum(p.value for p in queued) >= 1
    await pac.balance.flush_summaries()
    lag = metric_points()["pacspace.summary.delivery_lag"]
    assert sum(p.count for p in lag) >= 1


async def test_the_raw_answer_comes_with_the_model() -> None:
    headers = {"X-Request-Id": "req_42", "X-RateLimit-Remaining": "99", "X-RateLimit-Limit": "100"}
    client = flaky([], headers=headers)
    async with PacSpace(KEY, base_url="https://api.test", http_client=client) as pac:
        emitted = await pac.balance.emit("c", 1, "usage")
    raw = emitted.raw_response
    assert raw is not None and raw.status_code == 201
    assert raw.request_id == "req_42"
    assert raw.rate_limit == {"remaining": "99", "limit": "100"}


async def test_with_options_shares_the_pool_and_the_lifetime() -> None:
    client = flaky([503, 503])
    async with PacSpace(KEY, base_url="https://api.test", http_client=client) as pac:
        strict = pac.with_options(max_retries=0, timeout=5)
        assert strict._transport.backend is pac._transport.backend
        assert strict._config.timeout.read == 5 and pac._config.max_retries == 2
        with pytest.raises(PacSpaceError) as caught:
            await strict.balance.emit("c", 1, "usage")
        assert caught.value.status_code == 503  # no retry on the strict view
        await strict.aclose()  # a view closes nothing
        assert (await pac.balance.emit("c", 1, "usage")).record_id == "r_1"
    with pytest.raises(PacSpaceError) as closed:
        await strict.balance.emit("c", 1, "usage")
    assert closed.value.code == "CLIENT_CLOSED"


def test_the_blocking_with_options(pacspace_sync_client: pacspace_sync.PacSpace) -> None:
    quick = pacspace_sync_client.with_options(timeout=3)
    assert isinstance(quick, pacspace_sync.PacSpace)
    assert quick.balance.emit("c", 1, "usage").status == "VERIFIED"
    assert quick._runtime.client()._config.timeout.read == 3
    quick.close()
    assert pacspace_sync_client.balance.usage() is not None


async def test_iterators_walk_every_page(
    pacspace_client: PacSpace, pacspace_sandbox: Sandbox
) -> None:
    items = [{"customerId": f"cust_{i:03}", "delta": 1, "reason": "usage"} for i in range(23)]
    await pacspace_client.balance.emit_many(items)
    seen = [c.customer_id async for c in pacspace_client.balance.iter_customers(page_size=5)]
    assert sorted(seen) == [f"cust_{i:03}" for i in range(23)]
    for _ in range(7):
        await pacspace_client.balance.checkpoint(customer_id="cust_001")
    ids = [c.checkpoint_id async for c in pacspace_client.balance.iter_checkpoints(page_size=3)]
    assert len(ids) == 7 and len(set(ids)) == 7


def test_blocking_iterators(pacspace_sync_client: pacspace_sync.PacSpace) -> None:
    pacspace_sync_client.balance.emit_many(
        [{"customerId": f"c{i}", "delta": 1, "reason": "r"} for i in range(4)]
    )
    assert len(list(pacspace_sync_client.balance.iter_customers(page_size=3))) == 4


async def test_delivery_pages_stop_at_the_total() -> None:
    calls: list[str] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url.query, "ascii"))
        offset = int(request.url.params["offset"])
        rows = [
            {"eventId": f"evt_{n}", "status": "delivered"}
            for n in range(offset, min(offset + 2, 5))
        ]
        return httpx.Response(200, json={"success": True, "data": {"deliveries": rows, "total": 5}})

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    async with PacSpace(KEY, base_url="https://api.test", http_client=http) as pac:
        seen = [d.event_id async for d in pac.balance.iter_webhook_deliveries(page_size=2)]
    assert seen == [f"evt_{n}" for n in range(5)]
    assert len(calls) == 3


def test_without_opentelemetry_every_hook_is_a_no_op() -> None:
    program = textwrap.dedent(
        """
        import sys
        class Hide:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] == "opentelemetry":
                    raise ModuleNotFoundError(name=name)
        sys.meta_path.insert(0, Hide())
        import asyncio, httpx
        from pacspace_async import PacSpace
        from pacspace_async._telemetry import telemetry
        from pacspace_sandbox import IN_PROCESS_URL, Sandbox

        async def main():
            sandbox = Sandbox(verify_latency=0)
            http = httpx.AsyncClient(transport=sandbox.transport())
            async with PacSpace(sandbox.api_key, base_url=IN_PROCESS_URL, http_client=http) as pac:
                assert (await pac.balance.emit("c", 1, "usage")).status == "VERIFIED"
                pac.balance.queue_summary({"customerId": "c", "delta": 1, "reason": "r"})
                await pac.balance.flush_summaries()
            assert not telemetry.enabled and "opentelemetry" not in sys.modules

        asyncio.run(main())
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
