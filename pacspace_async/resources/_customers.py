"""``pac.customers``: the dashboard customer helpers (a dashboard token, not an API key)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import _params as spec
from .. import _validate as check
from .._errors import ValidationError
from .._options import RequestOptions
from .._transport import Transport
from ..types import DashboardCustomer

__all__ = ["Customers"]

_CREATE = spec.Call(
    spec.text("display_name", "displayName"),
    spec.Param("customer_id", "customerId", check.identifier),
    spec.text("sharing_state_hint", "sharingStateHint"),
    spec.text("event_cadence", "eventCadence"),
    spec.text("unit_label", "unitLabel"),
    extra=frozenset({"dashboard_token"}),
)


class Customers:
    """Dashboard customers, created before their first event. Reached as ``pac.customers``
    (listing customers and their balances is ``pac.balance.customers()``)."""

    def __init__(self, transport: Transport, dashboard_token: str | None = None) -> None:
        self._transport = transport
        self._token = dashboard_token

    def __repr__(self) -> str:
        return "Customers()"

    async def create(
        self,
        *,
        display_name: str,
        customer_id: str | None = None,
        sharing_state_hint: str | None = None,
        event_cadence: str | None = None,
        unit_label: str | None = None,
        options: Mapping[str, Any] | None = None,
        dashboard_token: str | None = None,
    ) -> DashboardCustomer:
        """Create a customer before its first event (``POST /dashboard/customers``).

        Needs a dashboard token: ``dashboard_token=``, ``options={"dashboardToken": ...}``,
        or ``PacSpace(dashboard_token=...)``. Balance API keys cannot create customers.
        """
        merged = _CREATE.merge(
            options,
            {},
            display_name=display_name,
            customer_id=customer_id,
            sharing_state_hint=sharing_state_hint,
            event_cadence=event_cadence,
            unit_label=unit_label,
            dashboard_token=dashboard_token,
        )
        merged.setdefault("dashboard_token", self._token)
        if not merged.get("dashboard_token"):
            raise ValidationError(
                "customers.create needs a dashboard token (dashboard_token=...)",
                field="dashboard_token",
            )
        ro = RequestOptions.take(merged)
        body = {"displayName": check.text(display_name, "displayName"), **_CREATE.wire(merged)}
        answer = await self._transport.request(
            "POST", "/dashboard/customers", body=body, options=ro
        )
        return DashboardCustomer.from_answer(*answer)
