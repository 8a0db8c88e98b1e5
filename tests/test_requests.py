"""Every call: the request it sends and the model it returns (respx, no network)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import respx

from pacspace_async import PacSpace

from .conftest import KEY, envelope

EMIT = {
    "recordId": "r_1",
    "receiptId": "rcpt_1",
    "status": "QUEUED",
    "customerId": "c",
    "delta": -42.5,
}


def sent(route: respx.Route) -> tuple[str, str, dict[str, str], Any]:
    request = route.calls.last.request
    parts = urlsplit(str(request.url))
    body = json.loads(request.content) if request.content else None
    return request.method, parts.path, dict(parse_qsl(parts.query)), body


async def test_emit_sends_the_seed_body_and_headers(
    pac: PacSpace, mock_api: respx.MockRouter
) -> None:
    route = mock_api.post("/api/v1/balance/delta").respond(201, json=envelope(EMIT))
    result = await pac.balance.emit(
        "cust_acme",
        -42.5,
        "compute_minutes",
        {"referenceId": "usage_2026_05_001", "metadata": {"product": "inference", "units": 50}},
    )
    method, path, _, body = sent(route)
    assert (method, path) == ("POST", "/api/v1/balance/delta")
    assert body == {
        "customerId": "cust_acme",
        "delta": -42.5,
        "reason": "compute_minutes",
        "referenceId": "usage_2026_05_001",
        "metadata": {"product": "inference", "units": 50},
    }
    headers = route.calls.last.request.headers
    assert headers["x-api-key"] == KEY
    assert headers["content-type"] == "application/json"
    assert headers["x-chain-id"] == "296"
    assert headers["user-agent"].startswith("pacspace-python-async/")
    assert headers["idempotency-key"].startswith("psk_")
    assert result.record_id == "r_1" and result["receiptId"] == "rcpt_1"
    assert result.delta == Decimal("-42.5")


async def test_keyword_form_equals_options_form(pac: PacSpace, mock_api: respx.MockRouter) -> None:
    route = mock_api.post("/api/v1/balance/delta").respond(201, json=envelope(EMIT))
    await pac.balance.emit(
        "c", 1, "r", {"referenceId": "x", "metadata": {"a": 1}, "adjusts": {"referenceId": "y"}}
    )
    first = sent(route)[3]
    await pac.balance.emit("c", 1, "r", reference_id="x", metadata={"a": 1}, adjusts="y")
    assert sent(route)[3] == first


async def test_callers_idempotency_key_and_extra_headers(
    pac: PacSpace, mock_api: respx.MockRouter
) -> None:
    route = mock_api.post("/api/v1/balance/delta").respond(201, json=envelope(EMIT))
    await pac.balance.emit("c", 1, "r", idempotency_key="mine", extra_headers={"X-Trace": "t1"})
    headers = route.calls.last.request.headers
    assert headers["idempotency-key"] == "mine" and headers["x-trace"] == "t1"
    await pac.balance.emit(
        "c", 1, "r", {"idempotencyKey": "seed-style", "chainId": 7, "creditPoolId": 9}
    )
    headers = route.calls.last.request.headers
    assert headers["idempotency-key"] == "seed-style"
    assert headers["x-chain-id"] == "7" and headers["x-credit-pool-id"] == "9"


async def test_each_logical_post_gets_a_fresh_key(
    pac: PacSpace, mock_api: respx.MockRouter
) -> None:
    route = mock_api.post("/api/v1/balance/delta").respond(201, json=envelope(EMIT))
    await pac.balance.emit("c", 1, "r")
    await pac.balance.emit("c", 1, "r")
    keys = {call.request.headers["idempotency-key"] for call in route.calls}
    assert len(keys) == 2


CASES: list[tuple[str, Any, dict[str, Any], str, str, dict[str, str], Any, dict[str, Any]]] = [
    # (name, call, answer, method, path, query, body, expected attributes)
    (
        "delta_status",
        lambda p: p.balance.delta_status("r/1"),
        {"recordId": "r/1", "status": "verified"},
        "GET",
        "/api/v1/balance/delta/r%2F1",
        {},
        None,
        {"status": "VERIFIED"},
    ),
    (
        "get_record_status",
        lambda p: p.balance.get_record_status("r1"),
        {"recordId": "r1", "status": "PROCESSING"},
        "GET",
        "/api/v1/balance/delta/r1",
        {},
        None,
        {"status": "PROCESSING"},
    ),
    (
        "derive",
        lambda p: p.balance.derive(
            "cust acme", {"period": "2026-05", "startingBalance": 10, "limit": 5}
        ),
        {"computedBalance": -500, "deltasCount": 3, "startingBalance": 10},
        "GET",
        "/api/v1/balance/derive/cust%20acme",
        {"period": "2026-05", "startingBalance": "10", "limit": "5"},
        None,
        {"computed_balance": Decimal(-500), "count": 3},
    ),
    (
        "derive_current_month",
        lambda p: p.balance.derive_current_month("c"),
        {"computedBalance": 1},
        "GET",
        "/api/v1/balance/derive/c",
        {"timePreset": "current_month"},
        None,
        {},
    ),
    (
        "derive_for_period",
        lambda p: p.balance.derive_for_period("c", "2026-05"),
        {"computedBalance": 1},
        "GET",
        "/api/v1/balance/derive/c",
        {"period": "2026-05"},
        None,
        {},
    ),
    (
        "compare",
        lambda p: p.balance.compare(
            "c", {"yours": 95000, "theirs": "98000.10"}, {"period": "2026-05"}
        ),
        {
            "neutralBalance": 95000,
            "matchesYours": True,
            "matchesTheirs": False,
            "discrepancyReport": {
                "amount": "3000.10",
                "divergentParty": "theirs",
                "recommendation": "check",
                "windows": [{"windowStart": "2026-05-01T00:00:00Z", "netDelta": 5}],
            },
        },
        "POST",
        "/api/v1/balance/compare",
        {},
        {
            "customerId": "c",
            "yourBalance": 95000,
            "theirBalance": 98000.10,
            "startingBalance": 0,
            "period": "2026-05",
        },
        {"matches_yours": True, "agreed": False},
    ),
    (
        "checkpoint",
        lambda p: p.balance.checkpoint("c", {"period": "2026-05"}),
        {"checkpointId": "cp_1", "proofRoot": "0xab", "deltaCount": 3, "status": "PENDING"},
        "POST",
        "/api/v1/balance/checkpoint",
        {},
        {"customerId": "c", "period": "2026-05"},
        {"proof_root": "0xab", "delta_count": 3},
    ),
    (
        "checkpoint without customer",
        lambda p: p.balance.checkpoint(),
        {"checkpointId": "cp_1"},
        "POST",
        "/api/v1/balance/checkpoint",
        {},
        {},
        {},
    ),
    (
        "list_checkpoints",
        lambda p: p.balance.list_checkpoints({"customerId": "c", "limit": 10}),
        {"checkpoints": [{"checkpointId": "cp_1"}], "total": 1},
        "GET",
        "/api/v1/balance/checkpoints",
        {"customerId": "c", "limit": "10"},
        None,
        {"total": 1},
    ),
    (
        "receipt",
        lambda p: p.balance.receipt("c"),
        {"proofRoot": "0x1", "verifyUrl": "https://v"},
        "GET",
        "/api/v1/balance/receipt/c",
        {},
        None,
        {"verify_url": "https://v", "access_hint": None},
    ),
    (
        "scoped receipt",
        lambda p: p.balance.receipt("c", {"period": "2026-05"}),
        {"proofRoot": "0x1"},
        "GET",
        "/api/v1/balance/invoice-proof/c",
        {"period": "2026-05"},
        None,
        {"proof_root": "0x1"},
    ),
    (
        "invoice_proof",
        lambda p: p.balance.invoice_proof("c", time_preset="current_month"),
        {"proofRoot": "0x1"},
        "GET",
        "/api/v1/balance/invoice-proof/c",
        {"timePreset": "current_month"},
        None,
        {},
    ),
    (
        "customers",
        lambda p: p.balance.customers({"search": "cust_", "limit": 25}),
        {"customers": [{"customerId": "cust_1", "computedBalance": "1.5"}]},
        "GET",
        "/api/v1/balance/customers",
        {"search": "cust_", "limit": "25"},
        None,
        {},
    ),
    (
        "customer",
        lambda p: p.balance.customer("c", {"period": "2026-05", "deltaPage": 2}),
        {
            "computedBalance": 7,
            "totalDeltas": 2,
            "recentActivity": {"items": [{"recordId": "r"}], "pagination": {"page": 2}},
        },
        "GET",
        "/api/v1/balance/customers/c",
        {"period": "2026-05", "deltaPage": "2"},
        None,
        {"total_deltas": 2},
    ),
    (
        "usage",
        lambda p: p.balance.usage(),
        {"remaining": 90, "allowed": True, "limit": 100},
        "GET",
        "/api/v1/balance/usage",
        {},
        None,
        {"remaining": 90, "allowed": True},
    ),
    (
        "gaps",
        lambda p: p.balance.gaps("c", {"fromSequence": 1, "toSequence": 9}),
        {"gaps": []},
        "GET",
        "/api/v1/balance/gaps/c",
        {"fromSequence": "1", "toSequence": "9"},
        None,
        {},
    ),
    (
        "list_webhook_deliveries",
        lambda p: p.balance.list_webhook_deliveries(status="failed", limit=5),
        {"deliveries": [{"eventId": "evt_1", "status": "failed"}]},
        "GET",
        "/api/v1/balance/webhooks",
        {"status": "failed", "limit": "5"},
        None,
        {},
    ),
    (
        "retry_webhook",
        lambda p: p.balance.retry_webhook("evt_1"),
        {"eventId": "evt_1", "status": "pending"},
        "POST",
        "/api/v1/balance/webhooks/evt_1/retry",
        {},
        {},
        {},
    ),
    (
        "receipts.list",
        lambda p: p.balance.receipts.list("c", {"limit": 10}),
        {
            "receipts": [
                {"receiptId": "rcpt_1", "links": {"permalink": "https://x/receipts/rcpt_1"}}
            ]
        },
        "GET",
        "/api/v1/balance/receipts",
        {"customerId": "c", "limit": "10"},
        None,
        {},
    ),
    (
        "receipts.get",
        lambda p: p.balance.receipts.get("rcpt_1"),
        {"receiptId": "rcpt_1"},
        "GET",
        "/api/v1/balance/receipts/rcpt_1",
        {},
        None,
        {"receipt_id": "rcpt_1"},
    ),
    (
        "verify",
        lambda p: p.verify("0xabc", source="both"),
        {"proofRoot": "0xabc", "verified": True},
        "GET",
        "/api/v1/verify/0xabc",
        {"source": "both"},
        None,
        {"verified": True},
    ),
]


@pytest.mark.parametrize(
    ("name", "call", "answer", "method", "path", "query", "body", "expected"),
    CASES,
    ids=[c[0] for c in CASES],
)
async def test_call(
    pac: PacSpace,
    mock_api: respx.MockRouter,
    name: str,
    call: Any,
    answer: Any,
    method: str,
    path: str,
    query: dict[str, str],
    body: Any,
    expected: dict[str, Any],
) -> None:
    route = mock_api.route().respond(200, json=envelope(answer))
    result = await call(pac)
    got_method, got_path, got_query, got_body = sent(route)
    assert (got_method, got_path, got_query) == (method, path, query)
    assert got_body == body
    for attribute, value in expected.items():
        assert getattr(result, attribute) == value


async def test_verify_sends_no_api_key_and_takes_a_bare_answer(
    pac: PacSpace, mock_api: respx.MockRouter
) -> None:
    route = mock_api.get("/api/v1/verify/0xabc").respond(
        200, json={"proofRoot": "0xabc", "verified": True}
    )
    result = await pac.verify("0xabc")
    assert "x-api-key" not in route.calls.last.request.headers
    assert result.verified is True


async def test_derive_months_and_days_back_send_custom_windows(
    pac: PacSpace, mock_api: respx.MockRouter
) -> None:
    route = mock_api.route().respond(200, json=envelope({"computedBalance": 0}))
    await pac.balance.derive_months_back("c", 3)
    query = sent(route)[2]
    assert query["timePreset"] == "custom"
    assert query["startDate"].endswith("-01T00:00:00Z") and query["endDate"].endswith(
        "-01T00:00:00Z"
    )
    await pac.balance.derive_days_back("c", 1)
    query = sent(route)[2]
    assert query["startDate"].endswith("T00:00:00Z") and query["startDate"] < query["endDate"]


async def test_download_pdf_returns_bytes(pac: PacSpace, mock_api: respx.MockRouter) -> None:
    mock_api.get("/api/v1/balance/receipts/rcpt_1/pdf").respond(200, content=b"%PDF-1.4 ...")
    assert await pac.balance.receipts.download_pdf("rcpt_1") == b"%PDF-1.4 ..."


async def test_customers_create_uses_the_dashboard_token(
    pac: PacSpace, mock_api: respx.MockRouter
) -> None:
    route = mock_api.post("/dashboard/customers").respond(201, json=envelope({"customerId": "c1"}))
    result = await pac.customers.create(
        display_name="Acme", customer_id="c1", dashboard_token="jwt"
    )
    assert route.calls.last.request.headers["authorization"] == "Bearer jwt"
    assert sent(route)[3] == {"displayName": "Acme", "customerId": "c1"}
    assert result.customer_id == "c1"


def test_receipt_helpers_run_without_io() -> None:
    pac = PacSpace(KEY, base_url="https://api.test")
    receipts = pac.balance.receipts
    assert receipts.from_url("https://app.pacspace.io/receipts/rcpt_9") == "rcpt_9"
    assert receipts.from_url("https://app.pacspace.io/r?receiptId=rcpt_8") == "rcpt_8"
    body = receipts.email_body(
        {"receiptId": "rcpt_9", "amount": "1.10", "links": {"permalink": "https://p"}}
    )
    assert "rcpt_9" in body and "https://p" in body and "1.10" in body


async def test_per_call_timeout_reaches_the_request(
    pac: PacSpace, mock_api: respx.MockRouter
) -> None:
    route = mock_api.get("/api/v1/balance/usage").respond(200, json=envelope({}))
    await pac.balance.usage(timeout=1.5)
    assert route.calls.last.request.extensions["timeout"]["read"] == 1.5
    await pac.balance.usage({"timeout": 2_500})  # the seeds' milliseconds
    assert route.calls.last.request.extensions["timeout"]["read"] == 2.5
    await pac.balance.usage()
    assert route.calls.last.request.extensions["timeout"]["read"] == 30.0
