"""Bad input is refused before anything is sent, with an error that names the field."""

from __future__ import annotations

from typing import Any

import pytest
import respx

import pacspace_async as ps
from pacspace_async import PacSpace

BAD: list[tuple[str, Any, str]] = [
    ("empty customer", lambda p: p.balance.emit("", 1, "r"), "customerId"),
    ("blank reason", lambda p: p.balance.emit("c", 1, "  "), "reason"),
    ("nan delta", lambda p: p.balance.emit("c", float("nan"), "r"), "delta"),
    ("inf delta", lambda p: p.balance.emit("c", float("inf"), "r"), "delta"),
    ("string nan delta", lambda p: p.balance.emit("c", "NaN", "r"), "delta"),
    ("bool delta", lambda p: p.balance.emit("c", True, "r"), "delta"),
    ("text delta", lambda p: p.balance.emit("c", "ten", "r"), "delta"),
    (
        "metadata not json",
        lambda p: p.balance.emit("c", 1, "r", metadata={"x": {1, 2}}),
        "metadata",
    ),
    ("metadata not a dict", lambda p: p.balance.emit("c", 1, "r", {"metadata": [1]}), "metadata"),
    (
        "unknown option",
        lambda p: p.balance.emit("c", 1, "r", {"referenceID": "typo"}),
        "referenceID",
    ),
    (
        "conflicting option",
        lambda p: p.balance.emit("c", 1, "r", {"referenceId": "a"}, reference_id="b"),
        "referenceId",
    ),
    ("bad period", lambda p: p.balance.derive("c", {"period": "2026-13"}), "period"),
    ("bad period form", lambda p: p.balance.derive_for_period("c", "May 2026"), "period"),
    (
        "bad date",
        lambda p: p.balance.derive(
            "c", {"timePreset": "custom", "startDate": "yesterday", "endDate": "2026-05-01"}
        ),
        "startDate",
    ),
    (
        "checkpoint with period",
        lambda p: p.balance.derive("c", {"startingCheckpoint": "cp", "period": "2026-05"}),
        "startingCheckpoint",
    ),
    (
        "period with preset",
        lambda p: p.balance.derive("c", {"period": "2026-05", "timePreset": "current_month"}),
        "period",
    ),
    (
        "dates with preset",
        lambda p: p.balance.compare(
            "c",
            {"yours": 1, "theirs": 1},
            {"timePreset": "current_month", "startDate": "2026-05-01", "endDate": "2026-06-01"},
        ),
        "timePreset",
    ),
    (
        "custom without dates",
        lambda p: p.balance.derive("c", {"timePreset": "custom"}),
        "timePreset",
    ),
    ("lonely start", lambda p: p.balance.derive("c", {"startDate": "2026-05-01"}), "endDate"),
    ("months < 1", lambda p: p.balance.derive_months_back("c", 0), "months"),
    ("days < 1", lambda p: p.balance.derive_days_back("c", -2), "days"),
    ("missing theirs", lambda p: p.balance.compare("c", {"yours": 1}), "theirs"),
    ("unknown source", lambda p: p.verify("0x1", source="ledger"), "source"),
    ("bad limit", lambda p: p.balance.customers(limit=0), "limit"),
    ("wait timeout", lambda p: p.balance.wait_for_verified("r", timeout=-1), "timeout"),
    ("empty record id", lambda p: p.balance.delta_status(""), "recordId"),
    ("bad max_retries", lambda p: p.balance.usage(max_retries=-1), "max_retries"),
]


@pytest.mark.parametrize(("name", "call", "field"), BAD, ids=[b[0] for b in BAD])
async def test_refused_before_sending(
    pac: PacSpace, mock_api: respx.MockRouter, name: str, call: Any, field: str
) -> None:
    route = mock_api.route().respond(200, json={"success": True, "data": {}})
    with pytest.raises(ps.ValidationError) as caught:
        await call(pac)
    assert caught.value.field == field
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, ps.PacSpaceError)
    assert field.split(".")[0].lower() in str(caught.value).lower()
    assert route.call_count == 0


def test_missing_key_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PACSPACE_API_KEY", raising=False)
    with pytest.raises(ps.PacSpaceError, match="PACSPACE_API_KEY"):
        PacSpace()


def test_bad_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ps.ValidationError):
        PacSpace("pk_test_a.b", base_url="ftp://x")
    with pytest.raises(ps.ValidationError):
        PacSpace("pk_test_a.b", base_url="https://user:pw@x")
