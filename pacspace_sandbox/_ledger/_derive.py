"""Deriving a balance in a scope (a window or after a checkpoint) and comparing two
parties' balances with it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from .. import _answers as answers
from .. import _fields as f
from .._errors import LedgerError, invalid
from .._scope import Window, iso, resolve
from .._store import Row
from ._state import LedgerState

__all__ = ["Derive"]


class Derive(LedgerState):
    def _window(self, params: Mapping[str, Any], now: float) -> tuple[Window, Row | None]:
        window = resolve(params, now)
        if window.checkpoint_id is None:
            return window, None
        checkpoint = self.store.checkpoint(window.checkpoint_id)
        if checkpoint is None:
            raise LedgerError(
                404,
                "NOT_FOUND",
                f"No checkpoint {window.checkpoint_id}.",
                field="startingCheckpoint",
            )
        return window, checkpoint

    def _verified(
        self, customer_id: str | None, window: Window, checkpoint: Row | None, now: float
    ) -> list[Row]:
        """Verified deltas in scope, in sequence order."""
        if checkpoint is not None:
            return self.store.verified_deltas(customer_id, now, after_seq=checkpoint["last_seq"])
        return self.store.verified_deltas(customer_id, now, window=(window.start, window.end))

    def _scope_label(self, window: Window) -> dict[str, Any]:
        return {**window.label, "windowStart": iso(window.start), "windowEnd": iso(window.end)}

    def _latest_checkpoint(self, customer_id: str | None) -> dict[str, Any] | None:
        row = self.store.latest_checkpoint(customer_id)
        return None if row is None else answers.checkpoint(row, self.clock())

    def derive(self, customer_id: str, params: Mapping[str, Any]) -> dict[str, Any]:
        now = self.clock()
        window, checkpoint = self._window(params, now)
        start = Decimal(0)
        if checkpoint is not None:
            start = Decimal(checkpoint["computed_balance"])
        if params.get("startingBalance") is not None:
            start = f.amount(
                _number(params["startingBalance"], "startingBalance"), "startingBalance"
            )
        limit = (
            f.integer(params, "limit", default=0, low=1, high=10_000)
            if params.get("limit")
            else None
        )
        offset = f.integer(params, "offset", default=0)
        rows = self._verified(customer_id, window, checkpoint, now)
        page = rows[offset : offset + limit] if limit else rows[offset:]
        total = start + sum((Decimal(r["amount"]) for r in page), Decimal(0))
        pending = self.store.pending_count(customer_id, now)
        return {
            "customerId": customer_id,
            "computedBalance": total,
            "startingBalance": start,
            "deltaCount": len(page),
            "deltasCount": len(page),
            "pendingCount": int(pending),
            "hasMore": bool(limit) and offset + len(page) < len(rows),
            "scope": self._scope_label(window),
            "latestCheckpoint": self._latest_checkpoint(customer_id),
        }

    def compare(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise invalid("body", "must be a JSON object")
        customer_id = f.optional_text(body, "customerId", max_length=f.MAX_ID_LENGTH)
        yours = f.amount(body.get("yourBalance"), "yourBalance")
        theirs = f.amount(body.get("theirBalance"), "theirBalance")
        start = (
            Decimal(0)
            if body.get("startingBalance") is None
            else f.amount(body["startingBalance"], "startingBalance")
        )
        now = self.clock()
        window, checkpoint = self._window(body, now)
        if checkpoint is not None and body.get("startingBalance") is None:
            start = Decimal(checkpoint["computed_balance"])
        rows = self._verified(customer_id, window, checkpoint, now)
        neutral = start + sum((Decimal(r["amount"]) for r in rows), Decimal(0))
        matches_yours, matches_theirs = yours == neutral, theirs == neutral
        report = None
        if not (matches_yours and matches_theirs):
            report = self._discrepancy(yours, theirs, neutral, start, rows)
        return {
            "customerId": customer_id,
            "neutralBalance": neutral,
            "yourBalance": yours,
            "theirBalance": theirs,
            "startingBalance": start,
            "matchesYours": matches_yours,
            "matchesTheirs": matches_theirs,
            "deltaCount": len(rows),
            "scope": self._scope_label(window),
            "discrepancyReport": report,
        }

    def _discrepancy(
        self, yours: Decimal, theirs: Decimal, neutral: Decimal, start: Decimal, rows: list[Row]
    ) -> dict[str, Any]:
        if yours != neutral and theirs != neutral:
            party, amount = "both", yours - theirs
            advice = (
                "Neither view matches the verified record. Reconcile both ledgers day by day "
                "against the windows below before invoicing."
            )
        elif yours != neutral:
            party, amount = "yours", yours - neutral
            advice = (
                "Your view differs from the verified record. Find the first window where your "
                "running balance departs from the one below, and emit an adjusting delta."
            )
        else:
            party, amount = "theirs", theirs - neutral
            advice = (
                "Your counterparty's view differs from the verified record. Share the proof "
                "root and the windows below so they can find the missing or extra usage."
            )
        days: dict[str, list[Row]] = {}
        for row in rows:
            day = datetime.fromtimestamp(row["created_at"], timezone.utc).strftime("%Y-%m-%d")
            days.setdefault(day, []).append(row)
        running = start
        windows = []
        for day, day_rows in days.items():
            net = sum((Decimal(r["amount"]) for r in day_rows), Decimal(0))
            running += net
            begin = datetime.fromisoformat(day).replace(tzinfo=timezone.utc).timestamp()
            windows.append(
                {
                    "windowStart": iso(begin),
                    "windowEnd": iso(begin + 86400),
                    "deltaCount": len(day_rows),
                    "netDelta": net,
                    "runningBalance": running,
                }
            )
        return {
            "amount": amount,
            "divergentParty": party,
            "recommendation": advice,
            "yoursOffBy": yours - neutral,
            "theirsOffBy": theirs - neutral,
            "windows": windows,
        }


def _number(value: Any, name: str) -> Decimal:
    """A query-string number, exactly."""
    try:
        result = Decimal(str(value))
    except ArithmeticError:
        raise invalid(name, "must be a number") from None
    return result
