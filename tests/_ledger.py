"""What the sandbox's ledger holds, summed the way a test compares it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any


def ledger(sandbox: Any, *by: str) -> dict[Any, Decimal]:
    """The sandbox's deltas summed by ``by`` (default: customer), after checking that no
    id was recorded twice."""
    columns = by or ("customer_id",)
    rows = sandbox.ledger.store.all(
        f"SELECT {', '.join(columns)}, amount, reference_id FROM deltas"
    )
    assert len({r["reference_id"] for r in rows}) == len(rows), "an id was recorded twice"
    totals: dict[Any, Decimal] = {}
    for row in rows:
        key = row[columns[0]] if len(columns) == 1 else tuple(row[c] for c in columns)
        totals[key] = totals.get(key, Decimal(0)) + Decimal(row["amount"])
    return totals
