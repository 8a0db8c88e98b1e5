"""The official pacspace-sdk 0.7.0, unchanged, runs the product flow against the sandbox."""

from __future__ import annotations

import pytest

from pacspace_sandbox import Sandbox, SandboxConfig, SandboxServer

pacspace_sdk = pytest.importorskip("pacspace_sdk")


@pytest.fixture
def pacspace_sandbox_config() -> SandboxConfig:
    return SandboxConfig(verify_latency=0.05, seed=5)


def test_official_client_flow(pacspace_sandbox: Sandbox, pacspace_server: SandboxServer) -> None:
    pac = pacspace_sdk.PacSpace.init(pacspace_sandbox.api_key, base_url=pacspace_server.url)
    customer = "customer_acme"
    records = []
    for day, units in (("2026-02-01", 100), ("2026-02-02", 250), ("2026-02-03", 150)):
        emitted = pac.balance.emit(
            customer, -units, f"daily_usage_flush:{day}", {"referenceId": f"usage:{customer}:{day}"}
        )
        assert emitted["status"] in ("QUEUED", "PROCESSING", "VERIFIED")
        records.append(emitted["recordId"])
    for record_id in records:
        assert (
            pac.balance.wait_for_verified(record_id, {"timeout": 5_000, "pollInterval": 50})[
                "status"
            ]
            == "VERIFIED"
        )
    waited = pac.balance.emit_and_wait("other", 1, "x", {"timeout": 5_000, "pollInterval": 50})
    assert waited["status"] == "VERIFIED"

    balance = pac.balance.derive(customer)
    assert balance["computedBalance"] == -500
    assert (balance.get("deltaCount") or balance.get("deltasCount")) == 3
    assert pac.balance.derive_current_month(customer)["computedBalance"] == -500
    assert pac.balance.derive_months_back(customer, 2)["computedBalance"] == -500

    agree = pac.balance.compare(
        customer, {"yours": -500, "theirs": -500}, {"startingBalance": balance["startingBalance"]}
    )
    assert agree["matchesYours"] and agree["matchesTheirs"] and agree["neutralBalance"] == -500
    differ = pac.balance.compare(customer, {"yours": -500, "theirs": -450})
    assert differ["matchesYours"] and not differ["matchesTheirs"]
    assert (
        differ["discrepancyReport"]["divergentParty"] == "theirs"
        and differ["discrepancyReport"]["amount"] == 50
    )

    checkpoint = pac.balance.checkpoint(customer)
    assert checkpoint["proofRoot"].startswith("0x") and checkpoint["deltaCount"] == 3
    assert pac.balance.list_checkpoints({"customerId": customer})["total"] == 1
    receipt = pac.balance.receipt(customer)
    assert receipt["verifyUrl"].startswith(pacspace_server.url)
    proof = pac.balance.receipt(customer, {"timePreset": "current_month"})
    assert proof["proofRoot"] == checkpoint["proofRoot"] and proof["verificationApiUrl"]

    customers = pac.balance.customers({"search": "cust", "limit": 25})
    assert [c["customerId"] for c in customers["customers"]] == [customer]
    assert pac.balance.customer(customer)["computedBalance"] == -500
    usage = pac.balance.usage()
    assert usage["allowed"] is True and usage["used"] == 4
    assert pac.verify(checkpoint["proofRoot"])["verified"] is True
    assert pac.balance.gaps(customer)["gaps"] == []

    with pytest.raises(pacspace_sdk.InvalidApiKeyError):
        pacspace_sdk.PacSpace("pk_test_wrong.key", base_url=pacspace_server.url).balance.usage()
    with pytest.raises(pacspace_sdk.NotFoundError):
        pac.balance.delta_status("r_missing")
