"""Answers: exact decimals, wire-name access, and tolerance of what we don't know yet."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
import respx

from pacspace_async import PacSpace
from pacspace_async.types import DerivedBalance, EmitResult, RecordStatus


@pytest.mark.parametrize(
    ("given", "wire"),
    [
        (0.1, "0.1"),
        (-42.5, "-42.5"),
        ("0.30000000000000004", "0.30000000000000004"),
        (Decimal("1234567890.123456789"), "1234567890.123456789"),
        (10, "10"),
        (1e-7, "1E-7"),
    ],
)
async def test_amounts_travel_exactly(
    pac: PacSpace, mock_api: respx.MockRouter, given: object, wire: str
) -> None:
    route = mock_api.post("/api/v1/balance/delta").respond(
        201,
        content=b'{"success":true,"data":{"recordId":"r","status":"QUEUED","delta":'
        + wire.encode()
        + b"}}",
    )
    result = await pac.balance.emit("c", given, "r")  # type: ignore[arg-type]
    body = route.calls.last.request.content.decode()
    assert f'"delta":{wire}' in body
    assert result.delta == Decimal(wire)


async def test_balances_do_not_drift(pac: PacSpace, mock_api: respx.MockRouter) -> None:
    mock_api.get("/api/v1/balance/derive/c").respond(
        200,
        content=b'{"success":true,"data":{"computedBalance":0.30000000000000000001,"deltaCount":3}}',
    )
    result = await pac.balance.derive("c")
    assert result.computed_balance == Decimal("0.30000000000000000001")


def test_wire_names_read_like_the_official_dicts() -> None:
    result = EmitResult.model_validate(
        {"recordId": "r1", "receiptId": "rc", "status": "verified", "brandNew": 1}
    )
    assert result["recordId"] == "r1" and result["record_id"] == "r1"
    assert (
        result.get("receiptId") == "rc"
        and result.get("missing") is None
        and result.get("missing", 5) == 5
    )
    assert "status" in result and "brandNew" in result and "nope" not in result
    assert result["brandNew"] == 1
    assert dict(result)["recordId"] == "r1"
    with pytest.raises(KeyError):
        result["nope"]
    derived = DerivedBalance.model_validate({"computedBalance": 0, "deltasCount": 3})
    assert (derived.get("deltaCount") or derived.get("deltasCount")) == 3 and derived.count == 3


def test_unknown_status_is_kept_not_rejected() -> None:
    status = RecordStatus.model_validate({"recordId": "r", "status": "anchoring"})
    assert status.status == "ANCHORING" and not status.is_terminal
    assert RecordStatus.model_validate({"recordId": "r", "status": "failed"}).is_terminal


def test_to_dict_keeps_decimals() -> None:
    result = EmitResult.model_validate(
        json.loads('{"recordId": "r", "status": "QUEUED", "delta": 1}')
    )
    assert result.to_dict() == {"recordId": "r", "status": "QUEUED", "delta": Decimal(1)}
