"""Webhook verification vectors, typed events, replay protection, and receiving."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import subprocess
import sys
import threading
import time
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.datastructures import Headers

import pacspace_async
import pacspace_sync
from pacspace_async import PacSpace, WebhookVerificationError
from pacspace_async.webhooks import (
    CheckpointVerifiedEvent,
    DeltaVerifiedEvent,
    MemoryReplayStore,
    WebhookEvent,
    webhook_endpoint,
)

SECRET = "whsec_test_secret"
NOW = 1_739_270_400.0
BODY = json.dumps(
    {
        "id": "evt_1",
        "event": "delta.verified",
        "data": {
            "recordId": "r_1",
            "receiptId": "rcpt_a1b2c3d4e5f6",
            "deltaIndex": 1042,
            "delta": {"customerId": "cust_8xKj2m", "amount": -182},
        },
    }
)


def sig(body: str | bytes, stamp: str, secret: str = SECRET) -> str:
    raw = body.encode() if isinstance(body, str) else body
    return (
        "v1=" + hmac.new(secret.encode(), stamp.encode() + b"." + raw, hashlib.sha256).hexdigest()
    )


@pytest.fixture(params=[pacspace_async.Webhooks, pacspace_sync.Webhooks], ids=["async", "sync"])
def hooks(request: pytest.FixtureRequest) -> Any:
    return request.param(SECRET, clock=lambda: NOW)


MS = str(int(NOW * 1000))
S = str(int(NOW))


@pytest.mark.parametrize("stamp", [MS, S], ids=["milliseconds", "seconds"])
@pytest.mark.parametrize("as_bytes", [False, True], ids=["str", "bytes"])
def test_valid_deliveries(hooks: Any, stamp: str, as_bytes: bool) -> None:
    body: str | bytes = BODY.encode() if as_bytes else BODY
    event = hooks.verify(sig(BODY, stamp), stamp, body)
    assert isinstance(event, DeltaVerifiedEvent)
    assert event["data"]["receiptId"] == "rcpt_a1b2c3d4e5f6" and event.data.delta_index == 1042
    assert event.event == "delta.verified"


def test_rotation_either_signature_and_receiver_secret_lists() -> None:
    hooks = pacspace_async.Webhooks(SECRET, clock=lambda: NOW)
    both = f"{sig(BODY, MS, 'new_secret')}, {sig(BODY, MS)}"
    assert hooks.verify(both, MS, BODY).event == "delta.verified"
    receiver = pacspace_async.Webhooks(["new_secret", SECRET], clock=lambda: NOW)
    assert receiver.verify(sig(BODY, MS), MS, BODY).event == "delta.verified"
    assert receiver.verify(sig(BODY, MS, "new_secret"), MS, BODY).event == "delta.verified"


@pytest.mark.parametrize(
    ("signature", "stamp", "body", "reason"),
    [
        (None, MS, BODY, "missing_signature"),
        (sig(BODY, MS), None, BODY, "missing_timestamp"),
        ("v0=abc", MS, BODY, "unknown_scheme"),
        (sig(BODY, MS, "wrong"), MS, BODY, "signature_mismatch"),
        (
            sig(BODY, MS),
            MS,
            json.dumps(json.loads(BODY), indent=2),
            "signature_mismatch",
        ),  # re-serialised
        (
            sig(BODY, str(int((NOW - 301) * 1000))),
            str(int((NOW - 301) * 1000)),
            BODY,
            "stale_timestamp",
        ),
        (sig(BODY, str(int(NOW + 301))), str(int(NOW + 301)), BODY, "future_timestamp"),
        (sig(BODY, "soon"), "soon", BODY, "invalid_timestamp"),
        (sig(b"\xff\xfe", MS), MS, b"\xff\xfe", "not_utf8"),
        (sig("not json", MS), MS, "not json", "not_json"),
        (sig("[1, 2]", MS), MS, "[1, 2]", "not_an_event"),
        (sig("{}", MS), MS, "{}", "not_an_event"),
        (sig(BODY, MS), MS, "", "empty_body"),
        (sig(BODY, MS), MS, None, "invalid_body"),
        (12345, MS, BODY, "unknown_scheme"),
    ],
)
def test_each_failure_names_its_check_and_hides_secrets(
    hooks: Any, signature: Any, stamp: Any, body: Any, reason: str
) -> None:
    with pytest.raises(WebhookVerificationError) as caught:
        hooks.verify(signature, stamp, body)
    assert caught.value.reason == reason and caught.value.code == "WEBHOOK_VERIFICATION_FAILED"
    text = str(caught.value) + repr(caught.value)
    assert SECRET not in text and sig(BODY, MS)[3:] not in text
    if reason == "signature_mismatch":
        assert "raw request body" in str(caught.value)


def test_tolerance_holds_both_ways(hooks: Any) -> None:
    for offset in (-299, 299):
        stamp = str(int(NOW + offset))
        assert hooks.verify(sig(BODY, stamp), stamp, BODY, tolerance=300)
    stamp = str(int(NOW - 100))
    with pytest.raises(WebhookVerificationError):
        hooks.verify(sig(BODY, stamp), stamp, BODY, tolerance=60)


HEADER_SHAPES: list[Any] = [
    {"X-PacSpace-Signature": sig(BODY, MS), "X-PacSpace-Timestamp": MS},
    {"x-pacspace-signature": sig(BODY, MS), "x-pacspace-timestamp": MS},
    {"X-PACSPACE-SIGNATURE": [sig(BODY, MS)], "X-PACSPACE-TIMESTAMP": [MS]},
    [("x-pacspace-signature", sig(BODY, MS)), ("x-pacspace-timestamp", MS)],
    [(b"x-pacspace-signature", sig(BODY, MS).encode()), (b"x-pacspace-timestamp", MS.encode())],
    Headers({"X-PacSpace-Signature": sig(BODY, MS), "X-PacSpace-Timestamp": MS}),
    {"HTTP_X_PACSPACE_SIGNATURE": sig(BODY, MS), "HTTP_X_PACSPACE_TIMESTAMP": MS},  # Django META
    [
        ("x-pacspace-signature", sig(BODY, MS, "old")),
        ("x-pacspace-signature", sig(BODY, MS)),
        ("x-pacspace-timestamp", MS),
    ],  # a rotation sent as two headers
]


@pytest.mark.parametrize("headers", HEADER_SHAPES)
def test_headers_in_every_shape(hooks: Any, headers: Any) -> None:
    assert hooks.verify_from_headers(headers, BODY).event == "delta.verified"


@pytest.mark.parametrize("headers", [None, 42, "x-pacspace-signature: v1=..."])
def test_nothing_but_verification_errors_escape(hooks: Any, headers: Any) -> None:
    with pytest.raises(WebhookVerificationError):
        hooks.verify_from_headers(headers, BODY)


def test_typed_and_unknown_events() -> None:
    hooks = pacspace_async.Webhooks(SECRET)
    headers, body = hooks.sign(
        {"event": "checkpoint.verified", "data": {"proofRoot": "0xab", "deltaCount": 3}}
    )
    event = hooks.verify_from_headers(headers, body)
    assert isinstance(event, CheckpointVerifiedEvent) and event.data.delta_count == 3
    headers, body = hooks.sign({"event": "usage.anomaly", "data": {"anything": [1, 2]}})
    unknown = hooks.verify_from_headers(headers, body)
    assert type(unknown) is WebhookEvent and unknown["data"]["anything"] == [1, 2]


def test_redeliveries_are_flagged_by_the_replay_store() -> None:
    hooks = pacspace_async.Webhooks(SECRET, replay_store=MemoryReplayStore(max_size=2))
    headers, body = hooks.sign({"id": "evt_9", "event": "delta.verified", "data": {}})
    assert hooks.verify_from_headers(headers, body).redelivered is False
    assert hooks.verify_from_headers(headers, body).redelivered is True


def test_official_verifier_accepts_our_signatures() -> None:
    import pacspace_sdk

    headers, body = pacspace_async.Webhooks(SECRET).sign(BODY)
    assert (
        pacspace_sdk.Webhooks(SECRET).verify_from_headers(headers, body.decode())["event"]
        == "delta.verified"
    )


async def test_asgi_endpoint_verifies_dispatches_and_feeds_waits() -> None:
    calls: list[str] = []

    async def on_verified(event: WebhookEvent) -> None:
        calls.append(event.data.get("recordId"))

    def boom(event: WebhookEvent) -> None:
        raise RuntimeError("handler bug")

    with __import__("respx").mock(base_url="https://api.test", assert_all_called=False) as router:
        router.post("/api/v1/balance/delta").respond(
            201, json={"success": True, "data": {"recordId": "r_7", "status": "QUEUED"}}
        )
        status = router.get("/api/v1/balance/delta/r_7").respond(
            200, json={"success": True, "data": {"status": "QUEUED"}}
        )
        async with PacSpace(
            "pk_test_a.b", base_url="https://api.test", webhook_secret=SECRET
        ) as pac:
            assert pac.webhooks is not None
            app = webhook_endpoint(
                pac.webhooks, {"delta.verified": on_verified, "delta.failed": boom}
            )
            http = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://hooks"
            )
            wait = asyncio.create_task(pac.balance.emit_and_wait("c", 1, "r", timeout=5))
            await asyncio.sleep(0.05)
            headers, body = pac.webhooks.sign(
                {"event": "delta.verified", "data": {"recordId": "r_7"}}
            )
            assert (await http.post("/", content=body, headers=headers)).status_code == 204
            assert (await asyncio.wait_for(wait, 1)).status == "VERIFIED" and status.call_count == 0
            assert calls == ["r_7"]
            bad = await http.post("/", content=body + b" ", headers=headers)
            assert bad.status_code == 400 and bad.json() == {"error": "signature_mismatch"}
            headers, body = pac.webhooks.sign(
                {"event": "delta.failed", "data": {"recordId": "r_8"}}
            )
            assert (await http.post("/", content=body, headers=headers)).status_code == 500
            assert (await http.get("/")).status_code == 405
            await http.aclose()


def test_trigger_command_sends_a_signed_sample() -> None:
    received: list[WebhookEvent] = []
    hooks = pacspace_async.Webhooks(SECRET)
    app = webhook_endpoint(hooks, {"*": received.append})
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pacspace_cli",
                "webhooks",
                "trigger",
                "delta.verified",
                "--to",
                f"http://127.0.0.1:{port}/",
                "--secret",
                SECRET,
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        wrong = subprocess.run(
            [
                sys.executable,
                "-m",
                "pacspace_cli",
                "webhooks",
                "trigger",
                "delta.verified",
                "--to",
                f"http://127.0.0.1:{port}/",
                "--secret",
                "nope",
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
    finally:
        server.should_exit = True
        thread.join(5)
    assert done.returncode == 0, done.stderr
    assert "HTTP 204" in done.stdout and received[0].data.receipt_id == "rcpt_sample"
    assert wrong.returncode == 1 and "HTTP 400" in wrong.stdout


def test_a_client_without_a_secret_still_has_webhooks_that_say_how_to_set_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PACSPACE_WEBHOOK_SECRET", raising=False)
    for pac in (PacSpace("pk_test_a.b"), pacspace_sync.PacSpace("pk_test_a.b")):
        hooks = pac.webhooks
        assert hooks is not None and not hooks and not hooks.configured
        with pytest.raises(WebhookVerificationError) as caught:
            hooks.verify_from_headers({"X-PacSpace-Signature": "v1=00"}, b"{}")
        assert caught.value.reason == "missing_secret"
        assert "PACSPACE_WEBHOOK_SECRET" in str(caught.value)
        with pytest.raises(WebhookVerificationError):
            hooks.sign({"event": "delta.verified"})
    configured = PacSpace("pk_test_a.b", webhook_secret="whsec_1").webhooks
    assert configured and configured.configured


async def test_an_endpoint_without_a_secret_answers_500_so_the_delivery_comes_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PACSPACE_WEBHOOK_SECRET", raising=False)
    app = webhook_endpoint(PacSpace("pk_test_a.b").webhooks)
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://hooks.test") as http:
        answer = await http.post("/", content=b"{}", headers={"X-PacSpace-Signature": "v1=0"})
    assert answer.status_code == 500
    assert answer.json() == {"error": "missing_secret"}
