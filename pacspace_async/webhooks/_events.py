"""Webhook event models, chosen by the envelope's ``event`` name.

Known events get typed ``data``; an event name this SDK does not know yet still verifies
and parses, as a plain :class:`WebhookEvent` (PacSpace launches events before SDKs catch
up). Every model reads by wire name too: ``event["data"]["receiptId"]``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import PrivateAttr

from ..types import APIModel, Status

__all__ = [
    "CheckpointVerifiedEvent",
    "DeltaFailedEvent",
    "DeltaVerifiedEvent",
    "RecordCommittedEvent",
    "RecordFailedEvent",
    "WebhookEvent",
    "parse_event",
]


class WebhookEvent(APIModel):
    """A verified delivery: ``event``, ``timestamp``, ``data`` (and ``id`` when sent)."""

    event: str
    id: str | None = None
    timestamp: Any = None
    tenant_id: str | None = None
    created_at: str | None = None
    data: Any = None
    _redelivered: bool = PrivateAttr(default=False)

    @property
    def redelivered(self) -> bool:
        """This event id was seen before (needs a replay store on ``Webhooks``)."""
        return self._redelivered


class DeltaDetails(APIModel):
    customer_id: str | None = None
    amount: Decimal | None = None
    reason: str | None = None
    reference_id: str | None = None


class Proof(APIModel):
    proof_hash: str | None = None
    content_hash: str | None = None


class VerificationDetails(APIModel):
    verified: bool | None = None
    latency_ms: int | None = None
    discrepancies: list[Any] = []


class DeltaVerifiedData(APIModel):
    record_id: str | None = None
    receipt_id: str | None = None
    customer_id: str | None = None
    delta_index: int | None = None
    sequence_number: int | None = None
    status: Status | None = None
    delta: DeltaDetails | Decimal | None = None
    reference_id: str | None = None
    proof: Proof | None = None
    verification: VerificationDetails | None = None


class DeltaFailedData(DeltaVerifiedData):
    error: str | None = None
    failed_at: str | None = None


class CheckpointVerifiedData(APIModel):
    checkpoint_id: str | None = None
    customer_id: str | None = None
    proof_root: str | None = None
    delta_count: int | None = None
    computed_balance: Decimal | None = None
    status: Status | None = None
    verified_at: str | None = None


class RecordCommittedData(APIModel):
    receipt_id: str | None = None
    status: Status | None = None
    verified_at: str | None = None
    verification_id: str | None = None
    item_count: int | None = None
    records: list[Any] = []


class RecordFailedData(APIModel):
    record_type: str | None = None
    entity_id: str | None = None
    seq: int | None = None
    code: str | None = None
    sentence: str | None = None


class DeltaVerifiedEvent(WebhookEvent):
    data: DeltaVerifiedData


class DeltaFailedEvent(WebhookEvent):
    data: DeltaFailedData


class CheckpointVerifiedEvent(WebhookEvent):
    data: CheckpointVerifiedData


class RecordCommittedEvent(WebhookEvent):
    data: RecordCommittedData


class RecordFailedEvent(WebhookEvent):
    data: RecordFailedData


EVENTS: dict[str, type[WebhookEvent]] = {
    "delta.verified": DeltaVerifiedEvent,
    "delta.failed": DeltaFailedEvent,
    "checkpoint.verified": CheckpointVerifiedEvent,
    "record.committed": RecordCommittedEvent,
    "record.failed": RecordFailedEvent,
}


def parse_event(envelope: dict[str, Any]) -> WebhookEvent:
    """The typed event for ``envelope`` (a generic one for unknown event names), built from
    what came as answers are (a field left out reads ``None``)."""
    model = EVENTS.get(str(envelope.get("event")), WebhookEvent)
    if model is not WebhookEvent and not isinstance(envelope.get("data"), dict):
        model = WebhookEvent
    return model.from_answer(envelope)
