"""An answer missing a field, or carrying one of an unexpected type, never fails the call:
the model is built from what came (a left-out field reads ``None`` and is not in
``to_dict()``; an odd one is kept as sent), one DEBUG line names the fields, and only an
answer that is not an object at all is an ``INVALID_RESPONSE``. ``adjusts`` takes
``referenceId`` or ``recordId``, exactly one."""

from __future__ import annotations

import json
import logging
from decimal import Decimal
from typing import Any

import pytest
import respx

import pacspace_async as ps
from pacspace_async import PacSpace, types
from pacspace_async.types import APIModel, CheckpointList, CompareReport, DerivedBalance
from pacspace_async.types._balance import BatchItemResult
from pacspace_async.webhooks import Webhooks

BASE = "https://api.test"
# Every model read from an answer that has required fields.
ANSWERS: list[type[APIModel]] = [
    BatchItemResult,
    *(
        getattr(types, name)
        for name in (
            "CompareReport",
            "CustomerSummary",
            "DerivedBalance",
            "EmitResult",
            "ReceiptDocument",
            "RecordStatus",
            "Verification",
            "WebhookDelivery",
        )
    ),
]


def required(model: type[APIModel]) -> list[str]:
    return [name for name, info in model.model_fields.items() if info.is_required()]


@pytest.mark.parametrize(
    ("model", "field"),
    [(model, field) for model in ANSWERS for field in required(model)],
    ids=lambda value: value if isinstance(value, str) else value.__name__,
)
def test_each_required_field_left_out_reads_none(
    model: type[APIModel], field: str, caplog: pytest.LogCaptureFixture
) -> None:
    wire = model.model_fields[field].alias or field
    sent = {"somethingNew": 1}  # the other required fields left out too
    with caplog.at_level(logging.DEBUG, logger="pacspace"):
        answer = model.from_answer(sent)
    assert isinstance(answer, model) and type(answer).__name__ == model.__name__
    assert getattr(answer, field) is None and answer.get(wire) is None
    assert wire not in answer and wire not in answer.to_dict()
    assert answer.to_dict() == sent and answer["somethingNew"] == 1
    said = [r.getMessage() for r in caplog.records if model.__name__ in r.getMessage()]
    assert len(said) == 1 and wire in said[0] and "left out" in said[0]


def test_a_field_of_an_unexpected_type_is_kept_as_sent(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="pacspace"):
        report = CompareReport.from_answer(
            {"neutralBalance": "about ten", "matchesYours": True, "matchesTheirs": True}
        )
    assert report.neutral_balance == "about ten" and report.matches_yours is True
    assert report.to_dict()["neutralBalance"] == "about ten"
    assert "neutralBalance of an unexpected type (kept as sent)" in caplog.text
    # What fits is still read into its type: amounts stay exact Decimals.
    derived = DerivedBalance.from_answer({"computedBalance": "-1.10", "deltaCount": "many"})
    assert derived.computed_balance == Decimal("-1.10") and derived["deltaCount"] == "many"


def test_a_nested_item_missing_a_field_stays_a_model() -> None:
    listed = CheckpointList.from_answer(
        {"checkpoints": [{"checkpointId": "chk_1", "status": "VERIFIED"}, {"status": 3}]}
    )
    assert [type(c).__name__ for c in listed.checkpoints] == ["Checkpoint", "Checkpoint"]
    assert listed.checkpoints[0].checkpoint_id == "chk_1"
    assert listed.checkpoints[1].status == 3


def test_an_answer_that_is_not_an_object_is_still_invalid() -> None:
    with pytest.raises(ps.PacSpaceError) as caught:
        CompareReport.from_answer(["not", "an", "object"])
    assert caught.value.code == "INVALID_RESPONSE"


def test_models_the_sdk_builds_itself_stay_strict() -> None:
    with pytest.raises(Exception, match=r"neutral_balance|neutralBalance"):
        CompareReport.model_validate({"matchesYours": True, "matchesTheirs": True})


async def test_compare_without_neutral_balance_succeeds_through_the_client() -> None:
    with respx.mock(base_url=BASE) as router:
        router.post("/api/v1/balance/compare").respond(
            201, json={"success": True, "data": {"matchesYours": True, "matchesTheirs": False}}
        )
        async with PacSpace("pk_test_a.b", base_url=BASE) as pac:
            report = await pac.balance.compare("cust_1", {"yours": -5, "theirs": -5})
    assert report.neutral_balance is None and report.matches_yours and not report.agreed
    assert report.to_dict() == {"matchesYours": True, "matchesTheirs": False}


def test_a_verified_delivery_missing_fields_still_verifies() -> None:
    hooks = Webhooks("whsec_fit")
    headers, body = hooks.sign({"event": "delta.verified", "data": {"recordId": "rec_1"}})
    event = hooks.verify_from_headers(headers, body)
    assert event.event == "delta.verified" and event.data.record_id == "rec_1"


@pytest.mark.parametrize(
    ("adjusts", "sent"),
    [
        ({"referenceId": "inv_001"}, {"referenceId": "inv_001"}),
        ({"recordId": "rec_orig"}, {"recordId": "rec_orig"}),
        ("inv_002", {"referenceId": "inv_002"}),
    ],
)
async def test_adjusts_takes_a_reference_id_or_a_record_id(adjusts: Any, sent: Any) -> None:
    with respx.mock(base_url=BASE) as router:
        route = router.post("/api/v1/balance/delta").respond(
            201, json={"success": True, "data": {"recordId": "rec_adj", "status": "QUEUED"}}
        )
        async with PacSpace("pk_test_a.b", base_url=BASE) as pac:
            await pac.balance.emit("cust_1", 25, "adjustment", adjusts=adjusts)
    assert json.loads(route.calls[0].request.content)["adjusts"] == sent


@pytest.mark.parametrize(
    ("adjusts", "field"),
    [
        ({"referenceId": "a", "recordId": "b"}, "adjusts"),
        ({}, "adjusts"),
        ({"recordId": ""}, "adjusts.recordId"),
        ({"referenceId": 5}, "adjusts.referenceId"),
    ],
)
async def test_adjusts_names_exactly_one_before_anything_is_sent(adjusts: Any, field: str) -> None:
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        route = router.post("/api/v1/balance/delta")
        async with PacSpace("pk_test_a.b", base_url=BASE) as pac:
            with pytest.raises(ps.ValidationError) as caught:
                await pac.balance.emit("cust_1", 25, "adjustment", adjusts=adjusts)
    assert caught.value.field == field and not route.called
