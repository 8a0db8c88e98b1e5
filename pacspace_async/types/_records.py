"""Answers about receipts, customers, usage, gaps, webhook deliveries and verification."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import Field

from ._base import APIModel, DeliveryStatus, DeltaStatus

__all__ = [
    "Customer",
    "CustomerList",
    "CustomerSummary",
    "DashboardCustomer",
    "Gaps",
    "Pagination",
    "Receipt",
    "ReceiptDocument",
    "ReceiptLinks",
    "RecentActivity",
    "Usage",
    "Verification",
    "WebhookDelivery",
    "WebhookDeliveryList",
    "WebhookRetry",
]


class Receipt(APIModel):
    """Customer-scoped receipt data, or a scoped invoice proof. Absent links are ``None``."""

    customer_id: str | None = None
    proof_root: str | None = None
    verify_url: str | None = None
    verification_api_url: str | None = None
    verification_explorer_url: str | None = None
    access_hint: str | None = None
    customer_link_url: str | None = None
    customer_link_host: str | None = None
    delta_count: int | None = None
    computed_balance: Decimal | None = None


class ReceiptLinks(APIModel):
    permalink: str | None = None
    pdf: str | None = None
    verify: str | None = None


class ReceiptDocument(APIModel):
    receipt_id: str
    record_id: str | None = None
    customer_id: str | None = None
    amount: Decimal | None = None
    reason: str | None = None
    reference_id: str | None = None
    status: DeltaStatus | None = None
    proof_hash: str | None = None
    created_at: str | None = None
    verified_at: str | None = None
    links: ReceiptLinks = ReceiptLinks()


class Pagination(APIModel):
    page: int | None = None
    limit: int | None = None
    total: int | None = None
    total_pages: int | None = None


class _CustomerFields(APIModel):
    display_name: str | None = None
    computed_balance: Decimal | None = None
    total_deltas: int | None = None
    last_activity_at: str | None = None


class CustomerSummary(_CustomerFields):
    """One customer in a list."""

    customer_id: str


class CustomerList(APIModel):
    customers: list[CustomerSummary] = []
    pagination: Pagination | None = None


class RecentActivity(APIModel):
    entries: list[dict[str, Any]] = Field(default=[], alias="items")
    pagination: Pagination | None = None


class Customer(_CustomerFields):
    """One customer, with its recent activity (the answer may not repeat the id)."""

    customer_id: str | None = None
    recent_activity: RecentActivity | None = None


class DashboardCustomer(APIModel):
    customer_id: str | None = None
    display_name: str | None = None


class Usage(APIModel):
    plan: str | None = None
    period: str | None = None
    used: int | None = None
    limit: int | None = None
    remaining: int | None = None
    allowed: bool | None = None


class Gaps(APIModel):
    customer_id: str | None = None
    gaps: list[dict[str, Any]] = []
    from_sequence: int | None = None
    to_sequence: int | None = None


class WebhookDelivery(APIModel):
    event_id: str
    status: DeliveryStatus
    event: str | None = None
    attempts: int | None = None
    url: str | None = None
    last_error: str | None = None
    created_at: str | None = None
    delivered_at: str | None = None


class WebhookRetry(APIModel):
    """What retrying a delivery answers: the event, now ``PENDING`` again."""

    event_id: str | None = None
    status: DeliveryStatus | None = None


class WebhookDeliveryList(APIModel):
    deliveries: list[WebhookDelivery] = []
    total: int | None = None


class Verification(APIModel):
    verified: bool
    proof_root: str | None = None
    source: str | None = None
    db: dict[str, Any] | None = None
    chain: dict[str, Any] | None = None
