"""What the service reports back: customers, plan usage, sequence gaps, webhook deliveries."""

from __future__ import annotations

import builtins
from collections.abc import AsyncGenerator, Mapping
from typing import Any

from typing_extensions import Unpack

from ... import _params as spec
from ... import _validate as check
from ..._options import RequestOptions, RequestOverrides
from ..._transport import query, segment
from ...types import (
    Customer,
    CustomerList,
    CustomerSummary,
    Gaps,
    RecordStatus,
    Usage,
    WebhookDelivery,
    WebhookDeliveryList,
    WebhookRetry,
)
from .._pages import DEFAULT_PAGE_SIZE, by_offset, by_page
from ._base import PLAIN, Room

__all__ = ["Reports"]

_CUSTOMERS = spec.Call(
    spec.Param("search", "search", check.text),
    spec.count("limit", "limit"),
    spec.count("page", "page"),
)
_CUSTOMER = spec.Call(
    spec.count("delta_page", "deltaPage"),
    spec.count("delta_limit", "deltaLimit"),
    spec.Param("period", "period", check.period),
)
_GAPS = spec.Call(
    spec.index("from_sequence", "fromSequence"),
    spec.index("to_sequence", "toSequence"),
    spec.count("limit", "limit"),
)
_DELIVERIES = spec.Call(
    spec.text("status", "status"),
    spec.count("limit", "limit"),
    spec.index("offset", "offset"),
)


class Reports(Room):
    async def customers(
        self,
        options: Mapping[str, Any] | None = None,
        *,
        search: str | None = None,
        limit: int | None = None,
        page: int | None = None,
        **request: Unpack[RequestOverrides],
    ) -> CustomerList:
        """Customers with their derived balances, optionally filtered by a search string;
        ``page`` starts at 1. (``pac.customers`` is another thing: the dashboard's, to
        create a customer before its first event.)"""
        merged = _CUSTOMERS.merge(options, request, search=search, limit=limit, page=page)
        ro = RequestOptions.take(merged)
        params = _CUSTOMERS.wire(merged)
        answer = await self._transport.request(
            "GET", f"/api/v1/balance/customers{query(params)}", options=ro
        )
        return CustomerList.from_answer(*answer)

    async def iter_customers(
        self,
        *,
        search: str | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        **request: Unpack[RequestOverrides],
    ) -> AsyncGenerator[CustomerSummary, None]:
        """Every customer of :meth:`customers`, a page per request."""

        async def fetch(limit: int, page: int) -> tuple[builtins.list[CustomerSummary], int | None]:
            answer = await self.customers(search=search, limit=limit, page=page, **request)
            pages = answer.pagination.total_pages if answer.pagination is not None else None
            return answer.customers, pages

        async for customer in by_page(fetch, page_size):
            yield customer

    async def customer(
        self,
        customer_id: str,
        options: Mapping[str, Any] | None = None,
        *,
        period: str | None = None,
        delta_page: int | None = None,
        delta_limit: int | None = None,
        **request: Unpack[RequestOverrides],
    ) -> Customer:
        """One customer: derived balance, delta count and recent activity."""
        merged = _CUSTOMER.merge(
            options, request, period=period, delta_page=delta_page, delta_limit=delta_limit
        )
        ro = RequestOptions.take(merged)
        params = _CUSTOMER.wire(merged)
        customer = segment(check.identifier(customer_id, "customerId"))
        path = f"/api/v1/balance/customers/{customer}{query(params)}"
        return Customer.from_answer(*await self._transport.request("GET", path, options=ro))

    async def iter_deltas(
        self,
        customer_id: str,
        *,
        period: str | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        **request: Unpack[RequestOverrides],
    ) -> AsyncGenerator[RecordStatus, None]:
        """Every delta of ``customer_id`` (within ``period``, ``YYYY-MM``, if given), in the
        service's order, a page of :meth:`customer`'s recent activity per request; each
        with its status, amount, reason, ids and times."""

        async def fetch(limit: int, page: int) -> tuple[builtins.list[RecordStatus], int | None]:
            answer = await self.customer(
                customer_id, period=period, delta_page=page, delta_limit=limit, **request
            )
            activity = answer.recent_activity
            if activity is None:
                return [], None
            pages = activity.pagination.total_pages if activity.pagination is not None else None
            return [RecordStatus.from_answer(entry) for entry in activity.entries], pages

        async for delta in by_page(fetch, page_size):
            yield delta

    async def usage(
        self,
        options: Mapping[str, Any] | None = None,
        **request: Unpack[RequestOverrides],
    ) -> Usage:
        """This month's plan usage: ``used``, ``limit``, ``remaining``, ``allowed``."""
        ro = RequestOptions.take(PLAIN.merge(options, request))
        return Usage.from_answer(
            *await self._transport.request("GET", "/api/v1/balance/usage", options=ro)
        )

    async def gaps(
        self,
        customer_id: str,
        options: Mapping[str, Any] | None = None,
        *,
        from_sequence: int | None = None,
        to_sequence: int | None = None,
        limit: int | None = None,
        **request: Unpack[RequestOverrides],
    ) -> Gaps:
        """Holes in a customer's sequence of verified deltas."""
        merged = _GAPS.merge(
            options, request, from_sequence=from_sequence, to_sequence=to_sequence, limit=limit
        )
        ro = RequestOptions.take(merged)
        params = _GAPS.wire(merged)
        path = f"/api/v1/balance/gaps/{segment(check.identifier(customer_id, 'customerId'))}{query(params)}"
        return Gaps.from_answer(*await self._transport.request("GET", path, options=ro))

    async def list_webhook_deliveries(
        self,
        options: Mapping[str, Any] | None = None,
        *,
        status: str | None = None,
        limit: int | None = None,
        offset: int | None = None,
        **request: Unpack[RequestOverrides],
    ) -> WebhookDeliveryList:
        """Webhook deliveries, optionally by status (``delivered``, ``failed``, ``pending``)."""
        merged = _DELIVERIES.merge(options, request, status=status, limit=limit, offset=offset)
        ro = RequestOptions.take(merged)
        params = _DELIVERIES.wire(merged)
        answer = await self._transport.request(
            "GET", f"/api/v1/balance/webhooks{query(params)}", options=ro
        )
        return WebhookDeliveryList.from_answer(*answer)

    async def iter_webhook_deliveries(
        self,
        *,
        status: str | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        **request: Unpack[RequestOverrides],
    ) -> AsyncGenerator[WebhookDelivery, None]:
        """Every delivery of :meth:`list_webhook_deliveries`, a page per request."""

        async def fetch(
            limit: int, offset: int
        ) -> tuple[builtins.list[WebhookDelivery], int | None]:
            page = await self.list_webhook_deliveries(
                status=status, limit=limit, offset=offset, **request
            )
            return page.deliveries, page.total

        async for delivery in by_offset(fetch, page_size):
            yield delivery

    async def retry_webhook(
        self,
        event_id: str,
        options: Mapping[str, Any] | None = None,
        **request: Unpack[RequestOverrides],
    ) -> WebhookRetry:
        """Deliver one webhook event again; ``status`` is upper-cased like every status."""
        ro = RequestOptions.take(PLAIN.merge(options, request))
        path = f"/api/v1/balance/webhooks/{segment(check.text(event_id, 'eventId'))}/retry"
        return WebhookRetry.from_answer(
            *await self._transport.request("POST", path, body={}, options=ro)
        )
