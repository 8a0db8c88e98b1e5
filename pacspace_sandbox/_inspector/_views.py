"""What each inspector page shows, read from the ledger: plain dicts for the templates.

No HTML here and no HTTP: every function takes the ledger (and the page's query) and
returns what a template renders, so the pages show exactly what the JSON routes answer.
Amounts stay ``Decimal`` and are printed as the ledger stores them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import simplejson

from .. import _answers as answers
from .._errors import LedgerError
from .._ledger import Ledger
from .._scope import PRESETS, iso

__all__ = [
    "DELTAS_PER_PAGE",
    "customer",
    "customers",
    "derived",
    "summaries",
    "usage",
    "webhooks",
]

DELTAS_PER_PAGE = 50
CUSTOMERS_PER_PAGE = 50
SUMMARY_DELTAS = 2000
DELIVERIES_PER_PAGE = 50


def _when(epoch: float | None) -> str:
    """ISO time to the second, as the tables show it."""
    return "" if epoch is None else iso(epoch)[:19].replace("T", " ") + "Z"


def _page(params: Mapping[str, str], name: str = "page") -> int:
    raw = params.get(name, "1")
    return int(raw) if raw.isdigit() and 0 < int(raw) < 10**6 else 1


def _pages(total: int, per_page: int) -> int:
    return max(1, (total + per_page - 1) // per_page)


def _total(amounts: list[str]) -> Decimal:
    return sum((Decimal(a) for a in amounts), Decimal(0))


def customers(ledger: Ledger, params: Mapping[str, str]) -> dict[str, Any]:
    search = params.get("q", "").strip()[:128]
    page = _page(params)
    store, now = ledger.store, ledger.clock()
    total, rows = store.customers_page(
        search or None, CUSTOMERS_PER_PAGE, (page - 1) * CUSTOMERS_PER_PAGE
    )
    return {
        "search": search,
        "customers": [_activity(ledger, row, now) for row in rows],
        "total": total,
        "page": page,
        "pages": _pages(total, CUSTOMERS_PER_PAGE),
    }


def _activity(ledger: Ledger, row: Any, now: float) -> dict[str, Any]:
    """A customer at a glance: balance of its verified deltas, what is still pending, how
    many deltas in all, the last one's time (the customers list and a customer's header)."""
    customer_id = row["customer_id"]
    balance, verified_count = ledger.store.verified_total(customer_id, now)
    count, last = ledger.store.customer_counts(customer_id)
    pending = ledger.store.pending_amounts(customer_id, now)
    return {
        "id": customer_id,
        "name": row["display_name"] or "",
        "balance": balance,
        "verified_count": verified_count,
        "pending": _total(pending),
        "pending_count": len(pending),
        "delta_count": count,
        "last": _when(last),
    }


def _delta(row: Any, now: float) -> dict[str, Any]:
    state = answers.status(row, now)
    settled = state in ("VERIFIED", "FAILED")
    return {
        "record_id": row["record_id"],
        "receipt_id": row["receipt_id"],
        "sequence": row["sequence_number"],
        "amount": Decimal(row["amount"]),
        "reason": row["reason"],
        "reference_id": row["reference_id"] or "",
        "status": state,
        "recorded": _when(row["created_at"]),
        "settled": _when(row["verify_at"]) if settled else "",
        "replays": row["replays"],
    }


def customer(ledger: Ledger, customer_id: str, params: Mapping[str, str]) -> dict[str, Any]:
    """The customer's header, deltas (newest first), checkpoints and the derive form."""
    store, now = ledger.store, ledger.clock()
    row = store.customer(customer_id)
    if row is None:
        raise LedgerError(404, "NOT_FOUND", f"No customer {customer_id}.")
    page = _page(params)
    activity = _activity(ledger, row, now)
    total, rows = store.deltas_page(
        customer_id,
        None,
        DELTAS_PER_PAGE,
        (page - 1) * DELTAS_PER_PAGE,
        known_total=activity["delta_count"],
    )
    checkpoints = ledger.list_checkpoints({"customerId": customer_id, "limit": "100"})
    return {
        **activity,
        "deltas": [_delta(r, now) for r in rows],
        "total": total,
        "page": page,
        "pages": _pages(total, DELTAS_PER_PAGE),
        "checkpoints": checkpoints["checkpoints"],
    }


@dataclass
class Derived:
    """The derive form's choice and, once asked, its answer or its error."""

    preset: str = ""
    period: str = ""
    start: str = ""
    end: str = ""
    presets: tuple[str, ...] = PRESETS
    answer: dict[str, Any] | None = None
    error: str = ""
    asked: bool = field(default=False)


def derived(ledger: Ledger, customer_id: str, params: Mapping[str, str]) -> Derived:
    """Derive the balance for the window the form names (``period`` YYYY-MM, a preset,
    or custom dates), through the same ledger call as ``GET /derive``."""
    form = Derived(
        preset=params.get("timePreset", ""),
        period=params.get("period", "").strip(),
        start=params.get("startDate", "").strip(),
        end=params.get("endDate", "").strip(),
    )
    if not any((form.preset, form.period, form.start, form.end)):
        return form
    form.asked = True
    query: dict[str, str] = {}
    if form.period:
        query["period"] = form.period
    elif form.start or form.end:
        query.update(timePreset="custom", startDate=form.start, endDate=form.end)
    else:
        query["timePreset"] = form.preset
    try:
        form.answer = ledger.derive(customer_id, query)
    except LedgerError as error:
        form.error = error.message
    return form


def summaries(ledger: Ledger) -> dict[str, Any]:
    """Summary deltas grouped by customer, reason and window: one line per window, with
    how many slices and replays arrived for it, newest window first."""
    now = ledger.clock()
    rows = ledger.store.summary_deltas(SUMMARY_DELTAS)
    groups: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for row in rows:
        key = (row["customer_id"], row["reason"], str(row["window_start"]), str(row["window_end"]))
        group = groups.get(key)
        if group is None:
            group = groups[key] = {
                "customer": row["customer_id"],
                "reason": row["reason"],
                "window_start": key[2],
                "window_end": key[3],
                "slices": 0,
                "replays": 0,
                "amount": Decimal(0),
                "first": row["created_at"],
                "statuses": set(),
            }
        group["slices"] += 1
        group["replays"] += row["replays"]
        group["amount"] += Decimal(row["amount"])
        group["first"] = min(group["first"], row["created_at"])
        group["statuses"].add(answers.status(row, now))
    items = sorted(groups.values(), key=lambda g: (g["window_start"], g["first"]), reverse=True)
    for group in items:
        group["first"] = _when(group["first"])
        group["statuses"] = ", ".join(sorted(group["statuses"]))
    return {"groups": items, "scanned": len(rows), "limit": SUMMARY_DELTAS}


def webhooks(ledger: Ledger, params: Mapping[str, str]) -> dict[str, Any]:
    deliveries = ledger.deliveries
    status = params.get("status", "")
    if status not in ("", "pending", "sending", "delivered", "failed"):
        status = ""
    page = _page(params)
    rows, total = deliveries.page(
        status or None, DELIVERIES_PER_PAGE, (page - 1) * DELIVERIES_PER_PAGE
    )
    items = []
    for row in rows:
        payload = simplejson.loads(row["payload"], use_decimal=True)
        items.append(
            {
                **deliveries.describe(row),
                "created": _when(row["created_at"]),
                "delivered": _when(row["delivered_at"]),
                "payload": simplejson.dumps(payload, indent=2, use_decimal=True),
                "headers": deliveries.headers(row),
            }
        )
    return {
        "deliveries": items,
        "total": total,
        "status": status,
        "page": page,
        "pages": _pages(total, DELIVERIES_PER_PAGE),
        "url": ledger.config.webhook_url or "",
        "enabled": deliveries.enabled,
    }


def usage(ledger: Ledger) -> dict[str, Any]:
    answer = ledger.usage()
    limit = answer["limit"]
    percent = None if not limit else min(100, round(100 * answer["used"] / limit))
    return {**answer, "percent": percent}
