"""Checkpoints (a scope's verified deltas locked under one proof root), receipts and
invoice proofs."""

from __future__ import annotations

import builtins
from collections.abc import AsyncGenerator, Mapping
from datetime import datetime
from typing import Any

from typing_extensions import Unpack

from ... import _params as spec
from ... import _validate as check
from ..._options import RequestOptions, RequestOverrides
from ..._scope import SCOPE_KEYS
from ..._transport import query, segment
from ...types import Checkpoint, CheckpointList, Receipt
from .._pages import DEFAULT_PAGE_SIZE, by_offset
from ._base import Room

__all__ = ["Checkpoints"]

_CHECKPOINT = spec.Call(
    *spec.TIME_SCOPE,
    spec.text("mode", "mode"),
    spec.Param("fingerprints", "fingerprints", check.string_list),
)
_LIST_CHECKPOINTS = spec.Call(
    spec.Param("customer_id", "customerId", check.identifier),
    *spec.TIME_SCOPE,
    spec.count("limit", "limit"),
    spec.index("offset", "offset"),
)
_RECEIPT = spec.Call(*spec.TIME_SCOPE)


class Checkpoints(Room):
    async def checkpoint(
        self,
        customer_id: str | None = None,
        options: Mapping[str, Any] | None = None,
        *,
        period: str | None = None,
        time_preset: str | None = None,
        start_date: str | datetime | None = None,
        end_date: str | datetime | None = None,
        mode: str | None = None,
        fingerprints: builtins.list[str] | None = None,
        **request: Unpack[RequestOverrides],
    ) -> Checkpoint:
        """Lock a scope's verified deltas under one proof root for an invoice."""
        merged = _CHECKPOINT.merge(
            options,
            request,
            period=period,
            time_preset=time_preset,
            start_date=start_date,
            end_date=end_date,
            mode=mode,
            fingerprints=fingerprints,
        )
        ro = RequestOptions.take(merged)
        body: dict[str, Any] = {}
        if customer_id is not None:
            body["customerId"] = check.identifier(customer_id, "customerId")
        body.update(_CHECKPOINT.wire(merged))
        answer = await self._transport.request(
            "POST", "/api/v1/balance/checkpoint", body=body, options=ro
        )
        return Checkpoint.from_answer(*answer)

    async def list_checkpoints(
        self,
        options: Mapping[str, Any] | None = None,
        *,
        customer_id: str | None = None,
        period: str | None = None,
        time_preset: str | None = None,
        start_date: str | datetime | None = None,
        end_date: str | datetime | None = None,
        limit: int | None = None,
        offset: int | None = None,
        **request: Unpack[RequestOverrides],
    ) -> CheckpointList:
        """Checkpoints, newest first, optionally for one customer and scope."""
        merged = _LIST_CHECKPOINTS.merge(
            options,
            request,
            customer_id=customer_id,
            period=period,
            time_preset=time_preset,
            start_date=start_date,
            end_date=end_date,
            limit=limit,
            offset=offset,
        )
        ro = RequestOptions.take(merged)
        params = _LIST_CHECKPOINTS.wire(merged)
        answer = await self._transport.request(
            "GET", f"/api/v1/balance/checkpoints{query(params)}", options=ro
        )
        return CheckpointList.from_answer(*answer)

    async def iter_checkpoints(
        self,
        *,
        customer_id: str | None = None,
        period: str | None = None,
        time_preset: str | None = None,
        start_date: str | datetime | None = None,
        end_date: str | datetime | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        **request: Unpack[RequestOverrides],
    ) -> AsyncGenerator[Checkpoint, None]:
        """Every checkpoint of :meth:`list_checkpoints`, newest first, a page per request."""

        async def fetch(limit: int, offset: int) -> tuple[builtins.list[Checkpoint], int | None]:
            page = await self.list_checkpoints(
                customer_id=customer_id,
                period=period,
                time_preset=time_preset,
                start_date=start_date,
                end_date=end_date,
                limit=limit,
                offset=offset,
                **request,
            )
            return page.checkpoints, page.total

        async for checkpoint in by_offset(fetch, page_size):
            yield checkpoint

    async def receipt(
        self,
        customer_id: str,
        options: Mapping[str, Any] | None = None,
        *,
        period: str | None = None,
        time_preset: str | None = None,
        start_date: str | datetime | None = None,
        end_date: str | datetime | None = None,
        **request: Unpack[RequestOverrides],
    ) -> Receipt:
        """A customer's receipt data; with a scope, the invoice proof for that scope."""
        merged = _RECEIPT.merge(
            options,
            request,
            period=period,
            time_preset=time_preset,
            start_date=start_date,
            end_date=end_date,
        )
        if merged.keys() & SCOPE_KEYS:
            return await self._invoice_proof(customer_id, merged)
        ro = RequestOptions.take(merged)
        path = f"/api/v1/balance/receipt/{segment(check.identifier(customer_id, 'customerId'))}"
        return Receipt.from_answer(*await self._transport.request("GET", path, options=ro))

    async def invoice_proof(
        self,
        customer_id: str,
        options: Mapping[str, Any] | None = None,
        *,
        period: str | None = None,
        time_preset: str | None = None,
        start_date: str | datetime | None = None,
        end_date: str | datetime | None = None,
        **request: Unpack[RequestOverrides],
    ) -> Receipt:
        """The proof of one scope (default: the current month) to attach to an invoice."""
        merged = _RECEIPT.merge(
            options,
            request,
            period=period,
            time_preset=time_preset,
            start_date=start_date,
            end_date=end_date,
        )
        return await self._invoice_proof(customer_id, merged)

    async def _invoice_proof(self, customer_id: str, merged: dict[str, Any]) -> Receipt:
        ro = RequestOptions.take(merged)
        path = (
            f"/api/v1/balance/invoice-proof/{segment(check.identifier(customer_id, 'customerId'))}"
            + query(_RECEIPT.wire(merged))
        )
        return Receipt.from_answer(*await self._transport.request("GET", path, options=ro))
