"""The sandbox's behaviour on the wire (raw httpx, in-process unless a socket is needed)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
import simplejson

from pacspace_sandbox import IN_PROCESS_URL, MAX_WINDOW_DAYS, Sandbox, SandboxConfig

from ._clock import Clock


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sandbox(clock: Clock) -> Sandbox:
    return Sandbox(SandboxConfig(verify_latency=1.0, latency_jitter=0, seed=3, clock=clock))


@pytest.fixture
async def http(sandbox: Sandbox) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=sandbox.transport(),
        base_url=IN_PROCESS_URL,
        headers={"X-Api-Key": sandbox.api_key},
    ) as client:
        yield client
    await sandbox.aclose()


def data(response: httpx.Response) -> Any:
    body = response.json(parse_float=Decimal)
    assert body["success"] is True, body
    return body["data"]


def error(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert body["success"] is False
    return dict(body["error"])


async def emit(
    http: httpx.AsyncClient, customer: str = "c", delta: Any = -100, **extra: Any
) -> dict[str, Any]:
    body = {"customerId": customer, "delta": delta, "reason": "usage", **extra}
    response = await http.post(
        "/api/v1/balance/delta",
        content=simplejson.dumps(body, use_decimal=True),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code in (200, 201), response.text
    return dict(data(response))


async def test_unknown_or_malformed_keys_are_401(http: httpx.AsyncClient) -> None:
    for key in ("pk_test_nope.nope", "garbage", ""):
        response = await http.get("/api/v1/balance/usage", headers={"X-Api-Key": key})
        assert response.status_code == 401 and error(response)["code"] == "INVALID_API_KEY"


async def test_lifecycle_queued_processing_verified(http: httpx.AsyncClient, clock: Clock) -> None:
    record = await emit(http)
    assert record["status"] == "QUEUED"
    clock.now += 0.5
    assert (
        data(await http.get(f"/api/v1/balance/delta/{record['recordId']}"))["status"]
        == "PROCESSING"
    )
    clock.now += 0.6
    status = data(await http.get(f"/api/v1/balance/delta/{record['recordId']}"))
    assert (
        status["status"] == "VERIFIED"
        and status["verifiedAt"]
        and status["proofHash"].startswith("0x")
    )


async def test_failures_at_the_fail_rate_and_gaps(clock: Clock) -> None:
    sandbox = Sandbox(SandboxConfig(verify_latency=0, fail_rate=1.0, clock=clock))
    async with httpx.AsyncClient(
        transport=sandbox.transport(),
        base_url=IN_PROCESS_URL,
        headers={"X-Api-Key": sandbox.api_key},
    ) as http:
        record = await emit(http)
        assert record["status"] == "FAILED"
        gaps = data(await http.get("/api/v1/balance/gaps/c"))
        assert gaps["gaps"] == [
            {"fromSequence": 1, "toSequence": 1, "count": 1, "reason": "failed"}
        ]


async def test_idempotency_by_key_and_by_reference(http: httpx.AsyncClient) -> None:
    body = {"customerId": "c", "delta": 5, "reason": "r"}
    first = await http.post("/api/v1/balance/delta", json=body, headers={"Idempotency-Key": "k1"})
    again = await http.post("/api/v1/balance/delta", json=body, headers={"Idempotency-Key": "k1"})
    assert first.status_code == 201 and again.status_code == 200
    assert data(again)["recordId"] == data(first)["recordId"] and data(again)["idempotent"] is True
    other = await http.post(
        "/api/v1/balance/delta", json={**body, "delta": 6}, headers={"Idempotency-Key": "k1"}
    )
    assert other.status_code == 409
    a = await emit(http, referenceId="ref-1")
    b = await emit(http, referenceId="ref-1", delta=-999)
    assert b["recordId"] == a["recordId"] and b["idempotent"] is True and b["delta"] == -100
    assert data(await http.get("/api/v1/balance/customers/c"))["totalDeltas"] == 2


async def test_batch_results_and_limit(http: httpx.AsyncClient) -> None:
    items = [
        {"customerId": "c", "delta": 1, "reason": "r", "referenceId": f"b{i}"} for i in range(3)
    ]
    items.append({"customerId": "", "delta": 1, "reason": "r"})
    answer = data(await http.post("/api/v1/balance/delta/batch", json={"deltas": items}))
    assert answer["totalQueued"] == 3 and answer["totalFailed"] == 1
    assert (
        answer["results"][3]["status"] == "FAILED" and "customerId" in answer["results"][3]["error"]
    )
    replay = data(await http.post("/api/v1/balance/delta/batch", json={"deltas": items[:1]}))
    assert replay["results"][0]["idempotent"] is True
    too_many = await http.post(
        "/api/v1/balance/delta/batch",
        json={"deltas": [{"customerId": "c", "delta": 1, "reason": "r"}] * 101},
    )
    assert too_many.status_code == 400 and error(too_many)["field"] == "deltas"


async def test_derive_is_exact_and_scoped(http: httpx.AsyncClient, clock: Clock) -> None:
    for _ in range(10):
        await emit(http, delta=Decimal("0.1"))
    assert (
        data(await http.get("/api/v1/balance/derive/c"))["computedBalance"] == 0
    )  # not verified yet
    clock.now += 2
    derived = data(await http.get("/api/v1/balance/derive/c"))
    assert (
        derived["computedBalance"] == Decimal("1.0")
        and derived["deltaCount"] == derived["deltasCount"] == 10
    )
    page = data(
        await http.get(
            "/api/v1/balance/derive/c", params={"limit": 4, "offset": 8, "startingBalance": "5"}
        )
    )
    assert (
        page["computedBalance"] == Decimal("5.2")
        and page["deltaCount"] == 2
        and page["hasMore"] is False
    )
    assert (
        data(await http.get("/api/v1/balance/derive/c", params={"period": "2001-01"}))[
            "computedBalance"
        ]
        == 0
    )


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"period": "2026-05", "timePreset": "current_month"}, "INVALID_SCOPE_COMBINATION"),
        ({"startingCheckpoint": "cp", "period": "2026-05"}, "INVALID_SCOPE_COMBINATION"),
        ({"timePreset": "custom"}, "INVALID_SCOPE_COMBINATION"),
        ({"startDate": "2024-01-01", "endDate": "2026-01-01"}, "SCOPE_TOO_WIDE"),
        ({"period": "2026-13"}, "VALIDATION_ERROR"),
        ({"timePreset": "fortnight"}, "VALIDATION_ERROR"),
    ],
)
async def test_scope_errors(http: httpx.AsyncClient, params: dict[str, str], code: str) -> None:
    response = await http.get("/api/v1/balance/derive/c", params=params)
    assert response.status_code == 400 and error(response)["code"] == code
    assert MAX_WINDOW_DAYS == 366


async def test_compare_agreement_and_discrepancy(http: httpx.AsyncClient, clock: Clock) -> None:
    for delta in (-100, -250, -150):
        await emit(http, delta=delta)
    clock.now += 2
    agree = data(
        await http.post(
            "/api/v1/balance/compare",
            json={"customerId": "c", "yourBalance": -500, "theirBalance": -500},
        )
    )
    assert agree["matchesYours"] and agree["matchesTheirs"] and agree["neutralBalance"] == -500
    assert agree["discrepancyReport"] is None
    differ = data(
        await http.post(
            "/api/v1/balance/compare",
            json={"customerId": "c", "yourBalance": -500, "theirBalance": -350},
        )
    )
    report = differ["discrepancyReport"]
    assert (
        report["divergentParty"] == "theirs"
        and report["amount"] == 150
        and report["recommendation"]
    )
    assert (
        report["windows"][0]["runningBalance"] == -500 and report["windows"][0]["deltaCount"] == 3
    )


async def test_checkpoint_verify_and_resume(http: httpx.AsyncClient, clock: Clock) -> None:
    await emit(http, delta=7)
    clock.now += 2
    checkpoint = data(await http.post("/api/v1/balance/checkpoint", json={"customerId": "c"}))
    assert checkpoint["deltaCount"] == 1 and checkpoint["status"] == "PENDING"
    root = checkpoint["proofRoot"]
    assert data(await http.get(f"/api/v1/verify/{root}"))["verified"] is True
    assert (
        data(await http.get(f"/api/v1/verify/{root}", params={"source": "chain"}))["verified"]
        is False
    )
    clock.now += 2
    assert (
        data(await http.get(f"/api/v1/verify/{root}", params={"source": "both"}))["verified"]
        is True
    )
    assert data(await http.get("/api/v1/verify/0xdeadbeef"))["verified"] is False
    await emit(http, delta=3)
    clock.now += 2
    resumed = data(
        await http.get(
            "/api/v1/balance/derive/c", params={"startingCheckpoint": checkpoint["checkpointId"]}
        )
    )
    assert resumed["computedBalance"] == 10 and resumed["deltaCount"] == 1
    listed = data(await http.get("/api/v1/balance/checkpoints", params={"customerId": "c"}))
    assert listed["total"] == 1 and listed["checkpoints"][0]["status"] == "VERIFIED"


def test_proof_root_is_the_documented_merkle_root() -> None:
    import hashlib

    from pacspace_sandbox._proofs import merkle_root

    a, b, c = ("0x" + hashlib.sha256(x).hexdigest() for x in (b"a", b"b", b"c"))
    h = lambda x, y: hashlib.sha256(bytes.fromhex(x[2:]) + bytes.fromhex(y[2:])).hexdigest()  # noqa: E731
    ab, cc = "0x" + h(a, b), "0x" + h(c, c)
    assert merkle_root([a, b, c]) == "0x" + h(ab, cc)
    assert merkle_root([]) == "0x" + hashlib.sha256(b"").hexdigest()


async def test_receipts_and_a_pdf_that_renders(
    http: httpx.AsyncClient, clock: Clock, tmp_path: Any
) -> None:
    record = await emit(http, customer="cust_ü", delta=Decimal("-42.50"))
    clock.now += 2
    receipt = data(await http.get("/api/v1/balance/receipt/cust_ü"))
    for field in (
        "verifyUrl",
        "verificationApiUrl",
        "verificationExplorerUrl",
        "accessHint",
        "customerLinkUrl",
        "customerLinkHost",
    ):
        assert receipt[field]
    proof = data(
        await http.get(
            "/api/v1/balance/invoice-proof/cust_ü", params={"timePreset": "current_month"}
        )
    )
    assert proof["proofRoot"] == receipt["proofRoot"]
    docs = data(await http.get("/api/v1/balance/receipts", params={"customerId": "cust_ü"}))[
        "receipts"
    ]
    assert docs[0]["receiptId"] == record["receiptId"] and docs[0]["links"]["permalink"].endswith(
        record["receiptId"]
    )
    pdf = await http.get(f"/api/v1/balance/receipts/{record['receiptId']}/pdf")
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    pdfium = pytest.importorskip("pypdfium2")
    document = pdfium.PdfDocument(pdf.content)
    page = document[0]
    text = page.get_textpage().get_text_range()
    assert record["receiptId"] in text and "-42.50" in text
    bitmap = page.render(scale=1)  # PDFium rasterises it: the file is a real, readable PDF
    assert bitmap.width > 500 and bitmap.height > 700
    page_html = await http.get(f"/receipts/{record['receiptId']}")
    assert page_html.status_code == 200 and record["receiptId"] in page_html.text


async def test_customers_search_pagination_and_detail(
    http: httpx.AsyncClient, clock: Clock
) -> None:
    for name in ("cust_a", "cust_b", "cust_c", "other"):
        await emit(http, customer=name, delta=1)
    clock.now += 2
    page = data(
        await http.get(
            "/api/v1/balance/customers", params={"search": "cust_", "limit": 2, "page": 2}
        )
    )
    assert [c["customerId"] for c in page["customers"]] == ["cust_c"]
    assert page["pagination"] == {"page": 2, "limit": 2, "total": 3, "totalPages": 2}
    detail = data(await http.get("/api/v1/balance/customers/cust_a"))
    assert (
        detail["computedBalance"] == 1
        and detail["recentActivity"]["items"][0]["customerId"] == "cust_a"
    )
    missing = await http.get("/api/v1/balance/customers/nobody")
    assert missing.status_code == 404


async def test_plan_limit(clock: Clock) -> None:
    sandbox = Sandbox(SandboxConfig(verify_latency=0, plan_limit=2, clock=clock))
    async with httpx.AsyncClient(
        transport=sandbox.transport(),
        base_url=IN_PROCESS_URL,
        headers={"X-Api-Key": sandbox.api_key},
    ) as http:
        await emit(http)
        await emit(http)
        usage = data(await http.get("/api/v1/balance/usage"))
        assert usage["remaining"] == 0 and usage["allowed"] is False and usage["limit"] == 2
        over = await http.post(
            "/api/v1/balance/delta", json={"customerId": "c", "delta": 1, "reason": "r"}
        )
        assert over.status_code == 402 and error(over)["code"] == "PLAN_LIMIT_EXCEEDED"


async def test_rate_limit_answers_429_with_retry_after() -> None:
    sandbox = Sandbox(SandboxConfig(rate_limit=2))
    async with httpx.AsyncClient(
        transport=sandbox.transport(),
        base_url=IN_PROCESS_URL,
        headers={"X-Api-Key": sandbox.api_key},
    ) as http:
        codes = [(await http.get("/api/v1/balance/usage")).status_code for _ in range(4)]
        limited = await http.get("/api/v1/balance/usage")
    assert codes[:2] == [200, 200] and 429 in codes
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"delta": 1, "reason": "r"}, "customerId"),
        ({"customerId": "c", "delta": "ten", "reason": "r"}, "delta"),
        ({"customerId": "c", "delta": True, "reason": "r"}, "delta"),
        ({"customerId": "c", "delta": 1}, "reason"),
        ({"customerId": "c", "delta": 1, "reason": "r", "metadata": [1]}, "metadata"),
        ({"customerId": "c", "delta": 1e300, "reason": "r"}, "delta"),
        ({"customerId": "c", "delta": 1e-19, "reason": "r"}, "delta"),  # 19 places: past 18
    ],
)
async def test_bad_fields_are_400_naming_the_field_and_store_nothing(
    http: httpx.AsyncClient, sandbox: Sandbox, body: dict[str, Any], field: str
) -> None:
    response = await http.post("/api/v1/balance/delta", content=json.dumps(body))
    assert response.status_code == 400 and error(response)["field"] == field
    assert sandbox.ledger.store.scalar("SELECT COUNT(*) FROM deltas") == 0


async def test_malformed_json_unknown_route_and_big_bodies(http: httpx.AsyncClient) -> None:
    bad = await http.post("/api/v1/balance/delta", content=b"{not json")
    assert bad.status_code == 400 and error(bad)["code"] == "INVALID_JSON"
    assert (await http.get("/api/v1/nowhere")).status_code == 404
    assert error(await http.get("/api/v1/nowhere"))["code"] == "NOT_FOUND"
    big = await http.post("/api/v1/balance/delta", content=b"x" * (1024 * 1024 + 1))
    assert big.status_code == 413


async def test_webhooks_are_signed_delivered_listed_and_retried(clock: Clock) -> None:
    import pacspace_sdk

    from pacspace_async import Webhooks

    received: list[httpx.Request] = []
    fail = {"on": True}

    def receiver(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(500 if fail["on"] else 204)

    secret = "whsec_sandbox"
    sandbox = Sandbox(
        SandboxConfig(
            verify_latency=0,
            webhook_url="http://hooks.test/in",
            webhook_secret=secret,
            webhook_transport=httpx.MockTransport(receiver),
        )
    )
    async with httpx.AsyncClient(
        transport=sandbox.transport(),
        base_url=IN_PROCESS_URL,
        headers={"X-Api-Key": sandbox.api_key},
    ) as http:
        record = await emit(http, delta=Decimal("-1.25"))
        for _ in range(100):
            if received:
                break
            await asyncio.sleep(0.01)
        assert received, "no delivery"
        delivery = received[0]
        ours = Webhooks(secret).verify_from_headers(delivery.headers, delivery.content)
        theirs = pacspace_sdk.Webhooks(secret).verify_from_headers(
            dict(delivery.headers), delivery.content.decode()
        )
        assert ours.event == theirs["event"] == "delta.verified"
        assert ours.data["recordId"] == record["recordId"] and ours.data["delta"][
            "amount"
        ] == Decimal("-1.25")
        assert delivery.headers["x-event-id"].startswith("evt_")
        listed = data(await http.get("/api/v1/balance/webhooks", params={"status": "pending"}))
        assert (
            listed["deliveries"][0]["attempts"] >= 1
            and listed["deliveries"][0]["lastError"] == "HTTP 500"
        )
        fail["on"] = False
        event_id = listed["deliveries"][0]["eventId"]
        assert (
            data(await http.post(f"/api/v1/balance/webhooks/{event_id}/retry", json={}))["status"]
            == "pending"
        )
        for _ in range(200):
            delivered = data(
                await http.get("/api/v1/balance/webhooks", params={"status": "delivered"})
            )
            if delivered["total"]:
                break
            await asyncio.sleep(0.01)
        assert delivered["deliveries"][0]["eventId"] == event_id
        await sandbox.aclose()


def test_restart_with_db_loses_nothing(tmp_path: Any) -> None:
    path = str(tmp_path / "sandbox.sqlite3")
    key = "pk_test_restart.secret"

    async def write() -> str:
        sandbox = Sandbox(SandboxConfig(db=path, api_keys=[key], verify_latency=0))
        async with httpx.AsyncClient(
            transport=sandbox.transport(), base_url=IN_PROCESS_URL, headers={"X-Api-Key": key}
        ) as http:
            record = await emit(http, delta=Decimal("12.34"))
            await http.post("/api/v1/balance/checkpoint", json={"customerId": "c"})
        sandbox.close()
        return str(record["recordId"])

    async def read(record_id: str) -> None:
        sandbox = Sandbox(SandboxConfig(db=path, api_keys=[key], verify_latency=0))
        async with httpx.AsyncClient(
            transport=sandbox.transport(), base_url=IN_PROCESS_URL, headers={"X-Api-Key": key}
        ) as http:
            assert (
                data(await http.get(f"/api/v1/balance/delta/{record_id}"))["status"] == "VERIFIED"
            )
            assert data(await http.get("/api/v1/balance/derive/c"))["computedBalance"] == Decimal(
                "12.34"
            )
            assert data(await http.get("/api/v1/balance/checkpoints"))["total"] == 1
        sandbox.close()

    record_id = asyncio.run(write())
    asyncio.run(read(record_id))
