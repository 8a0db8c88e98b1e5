"""API keys, dashboard logins and sessions, access requests, dashboard customers."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from .. import _fields as f
from .._config import new_api_key
from .._errors import LedgerError, invalid
from .._scope import iso
from ._state import LedgerState

__all__ = ["Accounts"]


class Accounts(LedgerState):
    def knows_key(self, key: str | None) -> bool:
        return bool(key) and key in self._keys

    def login(self, body: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        email = f.text(body, "email")
        password = f.text(body, "password")
        if (email, password) not in {tuple(u) for u in self.config.dashboard_users}:
            raise LedgerError(401, "INVALID_CREDENTIALS", "Email or password is incorrect.")
        token = secrets.token_urlsafe(24)
        self.store.insert("sessions", {"token": token, "email": email, "created_at": self.clock()})
        return token, {"user": {"email": email}, "token": token}

    def session(self, token: str | None) -> str | None:
        if not token:
            return None
        return self.store.session_email(token)

    def logout(self, token: str | None) -> None:
        if token:
            self.store.end_session(token)

    def create_api_key(self, body: Mapping[str, Any]) -> dict[str, Any]:
        name = f.optional_text(body, "name") or "api-key"
        key = new_api_key()
        now = self.clock()
        self.store.insert("api_keys", {"api_key": key, "name": name, "created_at": now})
        self._keys.add(key)
        public = key.split(".", 1)[0]
        return {
            "id": public,
            "name": name,
            "key": key,
            "prefix": public,
            "environment": "sandbox",
            "createdAt": iso(now),
        }

    def request_access(self, body: Mapping[str, Any]) -> dict[str, Any]:
        f.text(body, "name")
        email = f.text(body, "email")
        if "@" not in email:
            raise invalid("email", "must be an e-mail address")
        return {"status": "pending_review", "email": email}

    def environments(self, base_url: str) -> dict[str, Any]:
        return {
            "environments": [
                {"name": "sandbox", "status": "active", "chainId": 296, "baseUrl": base_url},
            ]
        }

    def create_customer(self, body: Mapping[str, Any]) -> dict[str, Any]:
        display = f.text(body, "displayName")
        customer_id = (
            f.optional_text(body, "customerId", max_length=f.MAX_ID_LENGTH)
            or f"cust_{secrets.token_hex(6)}"
        )
        with self.store.transaction():
            if self.store.customer(customer_id) is not None:
                raise LedgerError(
                    409,
                    "CUSTOMER_EXISTS",
                    f"Customer {customer_id} already exists.",
                    field="customerId",
                )
            self.store.insert(
                "customers",
                {
                    "customer_id": customer_id,
                    "display_name": display,
                    "created_at": self.clock(),
                    "unit_label": f.optional_text(body, "unitLabel"),
                    "event_cadence": f.optional_text(body, "eventCadence"),
                },
            )
        return {"customerId": customer_id, "displayName": display}
