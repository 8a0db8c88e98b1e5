"""One delta: the parameters of ``emit`` declared once, and its wire body.

``emit``, ``emit_and_wait``, the items of ``emit_many`` and the ``pacspace import`` command
all read a delta through :data:`EMIT` and :func:`emit_body`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import _params as spec
from .. import _validate as check

__all__ = ["EMIT", "ITEM_NAMES", "emit_body"]

EMIT = spec.Call(
    spec.Param("reference_id", "referenceId", check.identifier),
    spec.json_object("metadata", "metadata"),
    spec.Param("adjusts", "adjusts", check.adjusts),
)
"""What ``emit`` takes beside the customer, the amount and the reason."""

ITEM_NAMES = {
    "customerId": "customer_id",
    "delta": "delta",
    "reason": "reason",
    "idempotencyKey": "idempotency_key",
    **EMIT.seed_names,
}
"""An ``emit_many`` item's keys (the documented camelCase) and the keyword each one means."""


def emit_body(
    customer_id: Any, delta: Any, reason: Any, merged: Mapping[str, Any]
) -> dict[str, Any]:
    """The wire body of one delta, validated. Shared by ``emit`` and the batch paths."""
    body = {
        "customerId": check.identifier(customer_id, "customerId"),
        "delta": check.amount(delta, "delta"),
        "reason": check.label(reason, "reason"),
    }
    if merged:  # most emits have nothing more
        body.update(EMIT.wire(merged))
    return body
