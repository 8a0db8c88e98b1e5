"""Answers serialise with the wire's names and exact numbers; errors of one item of a
many-item call say which item; a FAILED delta can be retried once, exactly."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal

import pytest
import simplejson

import pacspace_sync
from pacspace_async import PacSpace, ValidationError
from pacspace_async.types import CompareReport, EmitResult, RecordStatus
from pacspace_sandbox import SandboxConfig


def test_to_json_has_the_wire_names_and_exact_numbers() -> None:
    answer = EmitResult.model_validate(
        json.loads('{"recordId": "r", "status": "queued", "customerId": "c"}')
        | {"delta": Decimal("1234567890.123456789"), "sequenceNumber": 7}
    )
    text = answer.to_json()
    assert '"delta":1234567890.123456789' in text and '"recordId":"r"' in text
    assert simplejson.loads(text, use_decimal=True)["delta"] == Decimal("1234567890.123456789")
    assert json.loads(text) == {
        "recordId": "r",
        "status": "QUEUED",
        "customerId": "c",
        "delta": 1234567890.1234567,
        "sequenceNumber": 7,
    }
    assert answer.to_dict()["delta"] == Decimal("1234567890.123456789")


def test_nested_answers_serialise_whole() -> None:
    report = CompareReport.model_validate(
        {
            "neutralBalance": -500,
            "matchesYours": True,
            "matchesTheirs": False,
            "discrepancyReport": {"amount": "0.1", "windows": [{"netDelta": -0.5}]},
        }
    )
    data = json.loads(report.to_json())
    assert data["discrepancyReport"] == {"amount": 0.1, "windows": [{"netDelta": -0.5}]}


def test_every_field_is_reachable_by_its_snake_case_name() -> None:
    answer = EmitResult.model_validate(
        {"recordId": "r", "status": "QUEUED", "sequenceNumber": 3, "proofHash": "0xab"}
    )
    assert answer.sequence_number == 3 and answer["sequenceNumber"] == 3
    assert answer.proof_hash == "0xab"
    with pytest.raises(AttributeError):
        answer.not_sent  # noqa: B018


async def test_item_errors_name_the_item(client_factory: Callable[..., PacSpace]) -> None:
    pac = client_factory()
    results = await pac.balance.emit_many(
        [
            {"customerId": "c", "delta": 1, "reason": "ok"},
            {"customerId": "c", "delta": "not a number", "reason": "r", "referenceId": "ref-1"},
            {"customerId": "c", "delta": 2},
        ]
    )
    assert isinstance(results[0], EmitResult)
    first, second = results[1], results[2]
    assert isinstance(first, ValidationError) and isinstance(second, ValidationError)
    assert (first.index, first.reference_id, first.field) == (1, "ref-1", "delta")
    assert str(first).startswith("item 1 (referenceId 'ref-1'): ")
    assert (second.index, second.reference_id) == (2, None)
    assert "index=2" in repr(second)


async def test_local_validation_errors_say_nothing_was_sent(
    client_factory: Callable[..., PacSpace],
) -> None:
    pac = client_factory()
    with pytest.raises(ValidationError) as caught:
        await pac.balance.emit("c", float("nan"), "r")
    assert caught.value.status_code == 0 and caught.value.status == 0


@pytest.fixture
def pacspace_sandbox_config() -> SandboxConfig:
    return SandboxConfig(verify_latency=0.0, fail_rate=1.0, seed=3)


async def test_a_failed_delta_is_retried_once_however_often_asked(
    client_factory: Callable[..., PacSpace],
) -> None:
    pac = client_factory()
    emitted = await pac.balance.emit("c", "-4.5", "usage", reference_id="inv-1")
    assert emitted.status == "FAILED"
    again = await pac.balance.emit("c", "-4.5", "usage", reference_id="inv-1")
    assert again.record_id == emitted.record_id  # the same referenceId is the same record
    retried = await pac.balance.retry_failed(emitted)
    assert retried.record_id != emitted.record_id
    assert retried.reference_id == f"inv-1:retry:{emitted.record_id}"
    twice = await pac.balance.retry_failed(emitted.record_id)
    assert twice.record_id == retried.record_id  # asked twice, recorded once
    status: RecordStatus = await pac.balance.delta_status(retried.record_id)
    assert status.delta == Decimal("-4.5") and status.customer_id == "c"
    with pytest.raises(ValidationError, match="only a FAILED delta"):
        await pac.balance.retry_failed(
            RecordStatus.model_validate({"recordId": "x", "status": "VERIFIED"})
        )


def test_the_blocking_client_has_the_same_answers(
    pacspace_sync_client: pacspace_sync.PacSpace,
) -> None:
    emitted = pacspace_sync_client.balance.emit("c", "0.1", "usage")
    assert json.loads(emitted.to_json())["delta"] == 0.1


async def test_progress_is_called_once_per_item_in_order(
    client_factory: Callable[..., PacSpace],
) -> None:
    pac = client_factory()
    seen: list[tuple[int, str]] = []
    items = [{"customerId": "c", "delta": d, "reason": "r"} for d in (1, "x", 3)]
    await pac.balance.emit_many(
        items, concurrency=2, progress=lambda i, o: seen.append((i, type(o).__name__))
    )
    assert seen == [(0, "EmitResult"), (1, "ValidationError"), (2, "EmitResult")]
