"""For the same call, our request equals the official pacspace-sdk 0.7.0's.

Both clients send to one recording stub (the official client through its ``transport``
hook, ours through an httpx MockTransport); method, path, query string, JSON body and the
protocol headers must match. Our extra ``Idempotency-Key`` on POSTs is by design (the
official client sends one only when asked), so it is compared only when the caller sets it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

pacspace_sdk = pytest.importorskip("pacspace_sdk")
from pacspace_sdk.client import TransportResponse  # noqa: E402

from pacspace_async import PacSpace  # noqa: E402

BASE = "https://stub.test"
KEY = "pk_test_PUBLIC.SECRET"
COMPARED = ("x-api-key", "content-type", "x-chain-id", "x-credit-pool-id", "authorization")
CUSTOMER = "cust acme/ü"


def canned(path: str) -> dict[str, Any]:
    data: dict[str, Any] = {
        "recordId": "r_1",
        "status": "QUEUED",
        "customers": [],
        "checkpoints": [],
        "deliveries": [],
        "gaps": [],
        "proofRoot": "0x1",
        "computedBalance": 0,
        "neutralBalance": 0,
        "matchesYours": True,
        "matchesTheirs": True,
        "verified": True,
        "customerId": "c",
    }
    return {"success": True, "data": data}


def shape(
    method: str, url: str, headers: dict[str, str], body: bytes | str | None
) -> dict[str, Any]:
    parts = urlsplit(url)
    lowered = {k.lower(): v for k, v in headers.items()}
    kept = {k: lowered[k] for k in COMPARED if k in lowered}
    if "idempotency-key" in lowered and not lowered["idempotency-key"].startswith("psk_"):
        kept["idempotency-key"] = lowered["idempotency-key"]
    raw = body.decode() if isinstance(body, bytes) else body
    return {
        "method": method,
        "path": parts.path,
        "query": parts.query,
        "headers": kept,
        "json": json.loads(raw) if raw else None,
    }


Call = Callable[[Any], Any]
CALLS: list[tuple[str, Call]] = [
    (
        "emit",
        lambda p: p.balance.emit(
            CUSTOMER,
            -42.5,
            "compute_minutes",
            {"referenceId": "usage_2026_05_001", "metadata": {"product": "inference", "units": 50}},
        ),
    ),
    (
        "emit with key",
        lambda p: p.balance.emit(
            "c",
            100.0,
            "initial-deposit",
            {"idempotencyKey": "k-1", "adjusts": {"referenceId": "x"}},
        ),
    ),
    ("delta_status", lambda p: p.balance.delta_status("r/1 2")),
    ("derive period", lambda p: p.balance.derive(CUSTOMER, {"period": "2026-05"})),
    (
        "derive paging",
        lambda p: p.balance.derive("c", {"startingBalance": 0, "limit": 10, "offset": 20}),
    ),
    (
        "derive custom",
        lambda p: p.balance.derive(
            "c",
            {
                "timePreset": "custom",
                "startDate": "2026-05-01T00:00:00Z",
                "endDate": "2026-06-01T00:00:00Z",
            },
        ),
    ),
    (
        "derive checkpoint",
        lambda p: p.balance.derive(
            "c", {"startingCheckpoint": "cp_1", "startingCheckpointType": "manual"}
        ),
    ),
    ("derive_current_month", lambda p: p.balance.derive_current_month("c")),
    ("derive_for_period", lambda p: p.balance.derive_for_period("c", "2026-05")),
    (
        "compare",
        lambda p: p.balance.compare("c", {"yours": 95000, "theirs": 98000}, {"period": "2026-05"}),
    ),
    (
        "compare start",
        lambda p: p.balance.compare("c", {"yours": 100.0, "theirs": 100.0}, {"startingBalance": 0}),
    ),
    ("checkpoint", lambda p: p.balance.checkpoint("c", {"period": "2026-05"})),
    ("checkpoint bare", lambda p: p.balance.checkpoint()),
    (
        "list_checkpoints",
        lambda p: p.balance.list_checkpoints({"customerId": "c", "limit": 5, "offset": 5}),
    ),
    ("receipt", lambda p: p.balance.receipt(CUSTOMER)),
    ("receipt scoped", lambda p: p.balance.receipt("c", {"period": "2026-05"})),
    ("invoice_proof", lambda p: p.balance.invoice_proof("c", {"timePreset": "current_month"})),
    ("customers", lambda p: p.balance.customers({"search": "cust_", "limit": 25, "page": 2})),
    (
        "customer",
        lambda p: p.balance.customer(
            CUSTOMER, {"period": "2026-05", "deltaPage": 2, "deltaLimit": 5}
        ),
    ),
    ("usage", lambda p: p.balance.usage()),
    ("gaps", lambda p: p.balance.gaps("c", {"fromSequence": 3, "limit": 7})),
    ("deliveries", lambda p: p.balance.list_webhook_deliveries({"status": "failed", "limit": 3})),
    ("retry_webhook", lambda p: p.balance.retry_webhook("evt_1/x")),
    ("verify", lambda p: p.verify("0xabc")),
    ("verify both", lambda p: p.verify("0xabc", "both")),
    (
        "customers.create",
        lambda p: p.customers.create(
            display_name="Acme",
            customer_id="c1",
            unit_label="tokens",
            options={"dashboardToken": "jwt"},
        ),
    ),
]


def official_request(call: Call) -> dict[str, Any]:
    seen: list[dict[str, Any]] = []

    def transport(
        method: str, url: str, headers: dict[str, str], body: str | None, timeout_ms: int
    ) -> TransportResponse:
        seen.append(shape(method, url, headers, body))
        path = urlsplit(url).path
        return TransportResponse(
            200, {"content-type": "application/json"}, json.dumps(canned(path)).encode()
        )

    client = pacspace_sdk.PacSpace(KEY, base_url=BASE, credit_pool_id=7, transport=transport)
    call(client)
    assert len(seen) == 1
    return seen[0]


def our_request(call: Call) -> dict[str, Any]:
    seen: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(shape(request.method, str(request.url), dict(request.headers), request.content))
        return httpx.Response(200, json=canned(request.url.path))

    async def run() -> None:
        http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
        async with PacSpace(KEY, base_url=BASE, credit_pool_id=7, http_client=http) as client:
            await call(client)
        await http.aclose()

    asyncio.run(run())
    assert len(seen) == 1
    return seen[0]


@pytest.mark.parametrize(("name", "call"), CALLS, ids=[c[0] for c in CALLS])
def test_same_request_as_the_official_client(name: str, call: Call) -> None:
    assert our_request(call) == official_request(call)
