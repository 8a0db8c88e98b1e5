"""Webhook verification and event models."""

from ._verify import WebhookEvent, Webhooks

__all__ = ["WebhookEvent", "Webhooks"]
