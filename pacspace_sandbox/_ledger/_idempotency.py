"""Idempotency keys: an answer remembered under its key, with the fingerprint of the
request that made it (the same key with another request is a 409)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import simplejson

from .._errors import LedgerError
from .._store import Row
from ._state import LedgerState

__all__ = ["Idempotency"]


def _fingerprint(body: Any) -> str:
    return hashlib.sha256(
        simplejson.dumps(body, use_decimal=True, sort_keys=True).encode()
    ).hexdigest()


class Idempotency(LedgerState):
    def _idempotent(self, key: str | None, body: Any) -> dict[str, Any] | None:
        if not key:
            return None
        row = self.store.idempotent_answer(key)
        if row is None:
            return None
        if row["fingerprint"] != _fingerprint(body):
            raise LedgerError(
                409,
                "IDEMPOTENCY_KEY_REUSED",
                "This Idempotency-Key was used with a different request.",
            )
        answer: dict[str, Any] = simplejson.loads(row["answer"], use_decimal=True)
        return answer

    @staticmethod
    def _original(row: Row | None, what: str) -> Row:
        """What an earlier request with the same idempotency key created."""
        assert row is not None, f"{what} vanished"
        return row

    def _remember(self, key: str | None, body: Any, answer: Mapping[str, Any]) -> None:
        if key:
            self.store.insert(
                "idempotency",
                {
                    "key": key,
                    "fingerprint": _fingerprint(body),
                    "answer": simplejson.dumps(answer, use_decimal=True),
                    "created_at": self.clock(),
                },
            )
