"""What the ledger reports: customers and their activity, plan usage, sequence gaps."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from .. import _answers as answers
from .. import _fields as f
from .._errors import LedgerError
from .._scope import Window, iso, resolve
from .._store import Row
from ._state import LedgerState

__all__ = ["Reports"]


class Reports(LedgerState):
    def _customer_summary(
        self, row: Row, now: float, window: Window | None = None
    ) -> dict[str, Any]:
        verified, total, last = self.store.customer_activity(
            row["customer_id"], now, None if window is None else (window.start, window.end)
        )
        return {
            "customerId": row["customer_id"],
            "displayName": row["display_name"],
            "computedBalance": sum((Decimal(r["amount"]) for r in verified), Decimal(0)),
            "totalDeltas": int(total),
            "verifiedDeltas": len(verified),
            "lastActivityAt": iso(last) if last else None,
            "createdAt": iso(row["created_at"]),
        }

    def customers(self, params: Mapping[str, Any]) -> dict[str, Any]:
        limit = f.integer(params, "limit", default=25, low=1, high=100)
        page = f.integer(params, "page", default=1, low=1)
        search = params.get("search")
        total, rows = self.store.customers_page(
            str(search) if search else None, limit, (page - 1) * limit
        )
        now = self.clock()
        return {
            "customers": [self._customer_summary(r, now) for r in rows],
            "pagination": _pagination(page, limit, total),
        }

    def customer(self, customer_id: str, params: Mapping[str, Any]) -> dict[str, Any]:
        row = self.store.customer(customer_id)
        if row is None:
            raise LedgerError(404, "NOT_FOUND", f"No customer {customer_id}.")
        now = self.clock()
        window = resolve({"period": params["period"]}, now) if params.get("period") else None
        limit = f.integer(params, "deltaLimit", default=20, low=1, high=100)
        page = f.integer(params, "deltaPage", default=1, low=1)
        total, items = self.store.deltas_page(
            customer_id,
            None if window is None else (window.start, window.end),
            limit,
            (page - 1) * limit,
        )
        return {
            **self._customer_summary(row, now, window),
            "recentActivity": {
                "items": [answers.delta(r, now) for r in items],
                "pagination": _pagination(page, limit, total),
            },
        }

    def usage(self) -> dict[str, Any]:
        now = self.clock()
        moment = datetime.fromtimestamp(now, timezone.utc)
        start = datetime(moment.year, moment.month, 1, tzinfo=timezone.utc).timestamp()
        rows = self.store.deltas_since(start)
        verified = sum(1 for r in rows if r["outcome"] == "VERIFIED" and r["verify_at"] <= now)
        pending = sum(1 for r in rows if r["verify_at"] > now)
        used = verified + pending
        limit = self.config.plan_limit
        return {
            "plan": "free" if limit is not None else "sandbox_unlimited",
            "period": moment.strftime("%Y-%m"),
            "used": used,
            "verified": verified,
            "pending": pending,
            "limit": limit,
            "remaining": None if limit is None else max(0, limit - used),
            "allowed": limit is None or used < limit,
        }

    def gaps(self, customer_id: str, params: Mapping[str, Any]) -> dict[str, Any]:
        now = self.clock()
        low = f.integer(params, "fromSequence", default=1, low=0)
        high = f.integer(params, "toSequence", default=2**62, low=0)
        limit = f.integer(params, "limit", default=100, low=1, high=1000)
        rows = self.store.sequence_outcomes(customer_id, low, high)
        gaps: list[dict[str, Any]] = []
        for row in rows:
            if row["outcome"] == "FAILED" and row["verify_at"] <= now:
                seq = row["sequence_number"]
                if gaps and gaps[-1]["toSequence"] == seq - 1:
                    gaps[-1]["toSequence"] = seq
                    gaps[-1]["count"] += 1
                else:
                    gaps.append(
                        {"fromSequence": seq, "toSequence": seq, "count": 1, "reason": "failed"}
                    )
        latest = rows[-1]["sequence_number"] if rows else None
        return {
            "customerId": customer_id,
            "fromSequence": low,
            "toSequence": latest if high == 2**62 else high,
            "latestSequence": latest,
            "gaps": gaps[:limit],
        }


def _pagination(page: int, limit: int, total: int) -> dict[str, Any]:
    return {
        "page": page,
        "limit": limit,
        "total": total,
        "totalPages": (total + limit - 1) // limit,
    }
