"""pacspace-sdk's ``transport=`` and ``shutdown()``, driven the way a pacspace-sdk user's
own test suite drives them: a fake service as a callable. Every test runs against
pacspace-sdk itself and against ``pacspace_sync``, and the requests each one hands the
callable are compared: the same method, URL, body text and headers."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import pacspace_sdk
import pytest
from pacspace_sdk.client import TransportResponse

import pacspace_async
import pacspace_sync

KEY = "pk_test_PUBLIC.SECRET"
BASE = "https://fake.pacspace.test"
COMPARED = ("x-api-key", "content-type", "x-chain-id", "x-credit-pool-id", "authorization")


def envelope(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Any:
    body = json.dumps({"success": True, "data": data}).encode()
    return TransportResponse(status, {"content-type": "application/json", **(headers or {})}, body)


def failure(status: int, code: str, headers: dict[str, str] | None = None) -> Any:
    body = json.dumps({"success": False, "error": {"code": code, "message": f"{code}!"}})
    return TransportResponse(
        status, {"content-type": "application/json", **(headers or {})}, body.encode()
    )


class FakeService:
    """What a team writes to fake PacSpace: answers by route, and every call recorded."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, str], str | None, int]] = []
        self.queued: list[Any] = []  # answers to give first, whatever the route
        self._lock = threading.Lock()

    def __call__(
        self, method: str, url: str, headers: dict[str, str], body: str | None, timeout_ms: int
    ) -> Any:
        with self._lock:
            self.calls.append((method, url, headers, body, timeout_ms))
            if self.queued:
                return self.queued.pop(0)
        path = urlsplit(url).path
        if path == "/api/v1/balance/delta":
            sent = json.loads(body or "{}")
            return envelope(
                {
                    "recordId": "rec_1",
                    "receiptId": "rcp_1",
                    "status": "QUEUED",
                    "customerId": sent["customerId"],
                    "delta": sent["delta"],
                },
                201,
            )
        if path.startswith("/api/v1/balance/derive/"):
            return envelope({"computedBalance": -500, "deltaCount": 3, "startingBalance": 0})
        if path == "/api/v1/balance/compare":
            return envelope(
                {
                    "neutralBalance": -500,
                    "matchesYours": True,
                    "matchesTheirs": False,
                    "discrepancyReport": {"amount": 20, "divergentParty": "theirs"},
                }
            )
        if path == "/api/v1/balance/checkpoint":
            return envelope(
                {"checkpointId": "cp_1", "proofRoot": "0xabc", "deltaCount": 3, "status": "PENDING"}
            )
        if path == "/api/v1/balance/usage":
            return envelope({"plan": "free", "used": 3, "limit": 100, "remaining": 97})
        if path.startswith("/api/v1/verify/"):
            return TransportResponse(
                200, {}, json.dumps({"verified": True, "proofRoot": "0xabc"}).encode()
            )
        if path.endswith("/retry"):
            return envelope({"eventId": "evt_1", "status": "pending"})
        return failure(404, "NOT_FOUND")

    def shapes(self) -> list[dict[str, Any]]:
        return [
            {
                "method": method,
                "url": url,
                "body": body,
                "headers": {k.lower(): v for k, v in headers.items() if k.lower() in COMPARED},
                "timeout_ms": timeout_ms,
            }
            for method, url, headers, body, timeout_ms in self.calls
        ]


PACKAGES = [pytest.param(pacspace_sdk, id="pacspace-sdk"), pytest.param(pacspace_sync, id="ours")]
Flow = Callable[[Any], Any]


def run(package: ModuleType, flow: Flow, **options: Any) -> tuple[Any, FakeService]:
    fake = FakeService()
    pac = package.PacSpace.init(KEY, base_url=BASE, transport=fake, **options)
    try:
        return flow(pac), fake
    finally:
        pac.close()


FLOWS: dict[str, Flow] = {
    "emit": lambda pac: pac.balance.emit(
        "cust acme/ü", -42.5, "compute_minutes", {"referenceId": "usage_1", "metadata": {"a": 1}}
    ),
    "derive_for_period": lambda pac: pac.balance.derive_for_period("cust_acme", "2026-05"),
    "derive": lambda pac: pac.balance.derive(
        "cust_acme", {"startingBalance": 10, "timePreset": "current_month"}
    ),
    "compare": lambda pac: pac.balance.compare(
        "cust_acme", {"yours": -500, "theirs": -480}, {"period": "2026-05"}
    ),
    "checkpoint": lambda pac: pac.balance.checkpoint("cust_acme", {"period": "2026-05"}),
    "usage": lambda pac: pac.balance.usage(),
    "verify": lambda pac: pac.verify("0xabc", "both"),
}


@pytest.mark.parametrize("name", FLOWS)
def test_the_callable_gets_the_request_pacspace_sdk_sends(name: str) -> None:
    theirs, their_calls = run(pacspace_sdk, FLOWS[name])
    ours, our_calls = run(pacspace_sync, FLOWS[name])
    assert our_calls.shapes() == their_calls.shapes()
    mine, official = json.loads(ours.to_json()), json.loads(json.dumps(theirs))
    if name == "checkpoint":
        # The one rule for statuses here: upper-cased as sent. pacspace-sdk folds every
        # status it does not know (a checkpoint's PENDING) to QUEUED.
        assert (mine.pop("status"), official.pop("status")) == ("PENDING", "QUEUED")
    assert mine == official


@pytest.mark.parametrize("package", PACKAGES)
def test_answers_read_the_same(package: ModuleType) -> None:
    emitted, _ = run(package, FLOWS["emit"])
    assert emitted["recordId"] == "rec_1" and emitted["status"] == "QUEUED"
    report, _ = run(package, FLOWS["compare"])
    assert report["matchesTheirs"] is False
    assert "windows" not in report["discrepancyReport"]  # the server sent none
    balance, _ = run(package, FLOWS["derive_for_period"])
    assert balance["computedBalance"] == -500


@pytest.mark.parametrize("package", PACKAGES)
def test_errors_map_with_retry_after(package: ModuleType) -> None:
    def flow(pac: Any) -> Any:
        fake = pac_fake[0]
        fake.queued.append(failure(429, "RATE_LIMITED", {"retry-after": "7"}))
        return pac.balance.usage()

    fake = FakeService()
    pac_fake = [fake]
    pac = package.PacSpace.init(KEY, base_url=BASE, transport=fake, max_retries=0)
    try:
        with pytest.raises(package.RateLimitError) as caught:
            flow(pac)
    finally:
        pac.close()
    assert caught.value.status_code == 429 and caught.value.code == "RATE_LIMITED"
    assert caught.value.retry_after == 7
    assert len(fake.calls) == 1


@pytest.mark.parametrize("package", PACKAGES)
def test_a_failing_answer_is_retried(package: ModuleType) -> None:
    fake = FakeService()
    fake.queued.append(failure(503, "SERVICE_UNAVAILABLE", {"retry-after": "0"}))
    pac = package.PacSpace.init(KEY, base_url=BASE, transport=fake, max_retries=2)
    try:
        assert pac.balance.usage()["used"] == 3
    finally:
        pac.close()
    assert len(fake.calls) == 2


@pytest.mark.parametrize("package", PACKAGES)
def test_a_raising_callable_is_a_network_error(package: ModuleType) -> None:
    def broken(*args: Any) -> Any:
        raise OSError("no route to host")

    pac = package.PacSpace.init(KEY, base_url=BASE, transport=broken, max_retries=0)
    try:
        with pytest.raises(package.PacSpaceError) as caught:
            pac.balance.usage()
    finally:
        pac.close()
    assert caught.value.code == "NETWORK_ERROR" and caught.value.status_code == 0


@pytest.mark.parametrize("package", PACKAGES)
def test_shutdown_closes_with_its_reason(package: ModuleType) -> None:
    fake = FakeService()
    pac = package.PacSpace.init(KEY, base_url=BASE, transport=fake)
    assert pac.balance.usage()["used"] == 3
    pac.shutdown("deploy 42 draining")
    with pytest.raises(package.PacSpaceError) as caught:
        pac.balance.usage()
    assert caught.value.code == "CLIENT_CLOSED" and str(caught.value) == "deploy 42 draining"
    pac.close()  # harmless after a shutdown


def test_every_status_is_upper_cased_the_retried_delivery_too() -> None:
    retried, _ = run(pacspace_sync, lambda pac: pac.balance.retry_webhook("evt_1"))
    assert retried.status == "PENDING" and retried["status"] == "PENDING"


async def test_the_async_client_takes_an_async_callable() -> None:
    fake = FakeService()
    seen_loops: list[bool] = []

    async def transport(*args: Any) -> Any:
        seen_loops.append(True)
        return fake(*args)

    async with pacspace_async.PacSpace(KEY, base_url=BASE, transport=transport) as pac:
        emitted = await pac.balance.emit("c", "0.1", "usage")
        assert emitted.record_id == "rec_1"
        await pac.shutdown("done")
        with pytest.raises(pacspace_async.PacSpaceError, match="done"):
            await pac.balance.usage()
    assert seen_loops and json.loads(fake.calls[0][3] or "")["delta"] == 0.1


def test_transport_and_http_client_together_are_refused() -> None:
    import httpx

    with pytest.raises(pacspace_async.ValidationError) as caught:
        pacspace_async.PacSpace(KEY, transport=FakeService(), http_client=httpx.AsyncClient())
    assert caught.value.field == "transport"
