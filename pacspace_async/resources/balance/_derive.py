"""Deriving a balance from verified deltas, and comparing two parties' balances with it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from typing_extensions import Unpack

from ... import _params as spec
from ... import _validate as check
from ..._errors import ValidationError
from ..._options import Amount, RequestOptions, RequestOverrides
from ..._time import iso_z
from ..._transport import query, segment
from ...types import CompareReport, DerivedBalance
from ._base import Room

__all__ = ["Derive"]

# Each call's parameters, in the order the wire lists them.
_DERIVE = spec.Call(
    spec.amount("starting_balance", "startingBalance"),
    spec.STARTING_CHECKPOINT,
    spec.STARTING_CHECKPOINT_TYPE,
    spec.count("limit", "limit"),
    spec.index("offset", "offset"),
    *spec.TIME_SCOPE,
)
_COMPARE = spec.Call(
    spec.amount("starting_balance", "startingBalance"),
    *spec.TIME_SCOPE,
    spec.STARTING_CHECKPOINT,
    spec.STARTING_CHECKPOINT_TYPE,
)


class Derive(Room):
    async def derive(
        self,
        customer_id: str,
        options: Mapping[str, Any] | None = None,
        *,
        period: str | None = None,
        time_preset: str | None = None,
        start_date: str | datetime | None = None,
        end_date: str | datetime | None = None,
        starting_balance: Amount | None = None,
        starting_checkpoint: str | None = None,
        starting_checkpoint_type: str | None = None,
        limit: int | None = None,
        offset: int | None = None,
        **request: Unpack[RequestOverrides],
    ) -> DerivedBalance:
        """The balance derived from verified deltas in scope (default: the current UTC month)."""
        merged = _DERIVE.merge(
            options,
            request,
            period=period,
            time_preset=time_preset,
            start_date=start_date,
            end_date=end_date,
            starting_balance=starting_balance,
            starting_checkpoint=starting_checkpoint,
            starting_checkpoint_type=starting_checkpoint_type,
            limit=limit,
            offset=offset,
        )
        ro = RequestOptions.take(merged)
        params = _DERIVE.wire(merged)
        path = f"/api/v1/balance/derive/{segment(check.identifier(customer_id, 'customerId'))}{query(params)}"
        return DerivedBalance.from_answer(*await self._transport.request("GET", path, options=ro))

    async def derive_current_month(
        self,
        customer_id: str,
        options: Mapping[str, Any] | None = None,
        **request: Unpack[RequestOverrides],
    ) -> DerivedBalance:
        """Derive over the current UTC month (``timePreset=current_month``)."""
        return await self.derive(
            customer_id, {**(options or {}), "timePreset": "current_month"}, **request
        )

    async def derive_for_period(
        self,
        customer_id: str,
        period: str,
        options: Mapping[str, Any] | None = None,
        **request: Unpack[RequestOverrides],
    ) -> DerivedBalance:
        """Derive over one calendar month, ``YYYY-MM``."""
        return await self.derive(
            customer_id, {**(options or {}), "period": check.period(period)}, **request
        )

    async def derive_months_back(
        self,
        customer_id: str,
        months: int,
        options: Mapping[str, Any] | None = None,
        **request: Unpack[RequestOverrides],
    ) -> DerivedBalance:
        """Derive over the last ``months`` calendar months, the current one included."""
        check.positive_int(months, "months")
        now = datetime.now(timezone.utc)
        end = datetime(now.year + (now.month == 12), now.month % 12 + 1, 1, tzinfo=timezone.utc)
        index = now.year * 12 + (now.month - 1) - (months - 1)
        start = datetime(index // 12, index % 12 + 1, 1, tzinfo=timezone.utc)
        return await self.derive(customer_id, _custom(options, start, end), **request)

    async def derive_days_back(
        self,
        customer_id: str,
        days: int,
        options: Mapping[str, Any] | None = None,
        **request: Unpack[RequestOverrides],
    ) -> DerivedBalance:
        """Derive over the last ``days`` UTC days, today included (``days=1`` is today)."""
        check.positive_int(days, "days")
        today = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
        start = today - timedelta(days=days - 1)
        return await self.derive(
            customer_id, _custom(options, start, today + timedelta(days=1)), **request
        )

    async def compare(
        self,
        customer_id: str,
        balances: Mapping[str, Amount] | None = None,
        options: Mapping[str, Any] | None = None,
        *,
        yours: Amount | None = None,
        theirs: Amount | None = None,
        period: str | None = None,
        time_preset: str | None = None,
        start_date: str | datetime | None = None,
        end_date: str | datetime | None = None,
        starting_balance: Amount | None = None,
        starting_checkpoint: str | None = None,
        starting_checkpoint_type: str | None = None,
        **request: Unpack[RequestOverrides],
    ) -> CompareReport:
        """Compare your balance and theirs with the neutral balance PacSpace derives.

        ``balances`` is the documented ``{"yours": ..., "theirs": ...}``; ``yours=``/``theirs=``
        say the same. The report says which view matches and, when one does not, by how
        much and in which windows the neutral record moved.
        """
        given = dict(balances or {})
        unknown = set(given) - {"yours", "theirs"}
        if unknown:
            raise ValidationError(f"unknown balance {sorted(unknown)[0]!r}", field="balances")
        your = yours if yours is not None else given.get("yours")
        their = theirs if theirs is not None else given.get("theirs")
        if your is None or their is None:
            raise ValidationError(
                "compare needs both balances: yours and theirs",
                field="yours" if your is None else "theirs",
            )
        merged = _COMPARE.merge(
            options,
            request,
            period=period,
            time_preset=time_preset,
            start_date=start_date,
            end_date=end_date,
            starting_balance=starting_balance,
            starting_checkpoint=starting_checkpoint,
            starting_checkpoint_type=starting_checkpoint_type,
        )
        ro = RequestOptions.take(merged)
        wire = _COMPARE.wire(merged)
        body: dict[str, Any] = {
            "customerId": check.identifier(customer_id, "customerId"),
            "yourBalance": check.amount(your, "yours"),
            "theirBalance": check.amount(their, "theirs"),
            "startingBalance": wire.pop("startingBalance", 0),
            **wire,
        }
        answer = await self._transport.request(
            "POST", "/api/v1/balance/compare", body=body, options=ro
        )
        return CompareReport.from_answer(*answer)


def _custom(options: Mapping[str, Any] | None, start: datetime, end: datetime) -> dict[str, Any]:
    return {
        **(options or {}),
        "timePreset": "custom",
        "startDate": iso_z(start),
        "endDate": iso_z(end),
    }
