"""Webhooks: verification, typed events, replay protection, and an ASGI receiver."""

from ._asgi import WebhookEndpoint, webhook_endpoint
from ._events import (
    CheckpointVerifiedEvent,
    DeltaFailedEvent,
    DeltaVerifiedEvent,
    RecordCommittedEvent,
    RecordFailedEvent,
    WebhookEvent,
    parse_event,
)
from ._replay import MemoryReplayStore, ReplayStore
from ._verify import Webhooks

__all__ = [
    "CheckpointVerifiedEvent",
    "DeltaFailedEvent",
    "DeltaVerifiedEvent",
    "MemoryReplayStore",
    "RecordCommittedEvent",
    "RecordFailedEvent",
    "ReplayStore",
    "WebhookEndpoint",
    "WebhookEvent",
    "Webhooks",
    "parse_event",
    "webhook_endpoint",
]
