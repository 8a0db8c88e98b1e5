"""Recording deltas (one, a batch) and reading one back; verification is a function of
time (``verify_at``), so nothing runs in the background but webhook deliveries."""

from __future__ import annotations

import secrets
from datetime import datetime, timezone
from typing import Any

import simplejson

from .. import _answers as answers
from .. import _fields as f
from .._errors import LedgerError, invalid
from .._proofs import content_hash
from .._scope import iso
from .._store import Row
from ._idempotency import Idempotency

__all__ = ["MAX_BATCH", "Deltas"]

MAX_BATCH = 100


class Deltas(Idempotency):
    def _parse_delta(self, body: Any, prefix: str = "") -> dict[str, Any]:
        if not isinstance(body, dict):
            raise invalid(prefix or "body", "must be a JSON object")
        try:
            item = {
                "customer_id": f.text(body, "customerId", max_length=f.MAX_ID_LENGTH),
                "amount": f.amount(body.get("delta"), "delta"),
                "reason": f.text(body, "reason"),
                "reference_id": f.optional_text(body, "referenceId", max_length=f.MAX_ID_LENGTH),
                "metadata": f.json_object(body, "metadata"),
                "adjusts": f.json_object(body, "adjusts"),
            }
        except LedgerError as exc:
            if prefix:
                exc.field = f"{prefix}.{exc.field}"
                exc.message = f"{prefix}.{exc.message}"
            raise
        return item

    def _check_plan(self, now: float) -> None:
        limit = self.config.plan_limit
        if limit is None:
            return
        moment = datetime.fromtimestamp(now, timezone.utc)
        start = datetime(moment.year, moment.month, 1, tzinfo=timezone.utc).timestamp()
        used = self.store.deltas_counted_against_plan(start, now)
        if used >= limit:
            raise LedgerError(
                402,
                "PLAN_LIMIT_EXCEEDED",
                f"This plan allows {limit} verified deltas a month; upgrade or wait for next month.",
                limit=limit,
            )

    def _record(self, item: dict[str, Any], now: float) -> tuple[Row | dict[str, Any], bool]:
        """Insert one delta (or find the one its referenceId already recorded)."""
        if item["reference_id"] is not None:
            existing = self.store.delta_by_reference(item["customer_id"], item["reference_id"])
            if existing is not None:
                self.store.note_replays([existing["record_id"]])
                return existing, True
        self._check_plan(now)
        # The customer's next sequence number, creating the customer on its first delta.
        sequence = self.store.next_sequence(item["customer_id"], now)
        latency = self.config.verify_latency
        if latency and self.config.latency_jitter:
            latency *= 1 + self.config.latency_jitter * (2 * self._rng.random() - 1)
        outcome = "FAILED" if self._rng.random() < self.config.fail_rate else "VERIFIED"
        record_id = f"r_{secrets.token_hex(8)}"
        created = iso(now)
        row = {
            "record_id": record_id,
            "receipt_id": f"rcpt_{secrets.token_hex(6)}",
            "customer_id": item["customer_id"],
            "sequence_number": sequence,
            "amount": str(item["amount"]),
            "reason": item["reason"],
            "reference_id": item["reference_id"],
            "metadata": None
            if item["metadata"] is None
            else simplejson.dumps(item["metadata"], use_decimal=True),
            "adjusts": None
            if item["adjusts"] is None
            else simplejson.dumps(item["adjusts"], use_decimal=True),
            "created_at": now,
            "verify_at": now + latency,
            "outcome": outcome,
            "content_hash": content_hash(
                record_id,
                item["customer_id"],
                item["amount"],
                item["reason"],
                item["reference_id"],
                created,
            ),
        }
        row["seq"] = self.store.insert("deltas", row)
        if self.deliveries.enabled:
            event = "delta.verified" if outcome == "VERIFIED" else "delta.failed"
            self.deliveries.enqueue(event, answers.event_data(row), row["verify_at"])
        return row, False

    def emit(self, body: Any, idempotency_key: str | None) -> tuple[dict[str, Any], bool]:
        """Record one delta. Returns the answer and whether it was created just now."""
        item = self._parse_delta(body)
        now = self.clock()
        with self.store.transaction():
            seen = self._idempotent(idempotency_key, body)
            if seen is not None:
                original = self._original(
                    self.store.delta_by("record_id", seen["recordId"]), seen["recordId"]
                )
                self.store.note_replays([original["record_id"]])
                return {**answers.delta(original, now), "idempotent": True}, False
            row, replay = self._record(item, now)
            answer = {**answers.delta(row, now), "idempotent": replay}
            self._remember(idempotency_key, body, {"recordId": row["record_id"]})
        self.deliveries.kick()
        return answer, not replay

    def batch(self, body: Any, idempotency_key: str | None) -> dict[str, Any]:
        if not isinstance(body, dict) or not isinstance(body.get("deltas"), list):
            raise invalid("deltas", "must be a list of deltas")
        items = body["deltas"]
        if not items:
            raise invalid("deltas", "must not be empty")
        if len(items) > MAX_BATCH:
            raise invalid("deltas", f"at most {MAX_BATCH} deltas per batch, got {len(items)}")
        now = self.clock()
        with self.store.transaction():
            seen = self._idempotent(idempotency_key, body)
            if seen is not None:
                self.store.note_replays(
                    [r["recordId"] for r in seen["results"] if r.get("recordId")]
                )
                return {**seen, "results": [{**r, "idempotent": True} for r in seen["results"]]}
            results: list[dict[str, Any]] = []
            for index, raw in enumerate(items):
                try:
                    item = self._parse_delta(raw, f"deltas[{index}]")
                    row, replay = self._record(item, now)
                except LedgerError as exc:
                    results.append(
                        {
                            "index": index,
                            "status": "FAILED",
                            "error": exc.message,
                            "code": exc.code,
                            "idempotent": False,
                        }
                    )
                    continue
                results.append(
                    {
                        "index": index,
                        "status": answers.status(row, now),
                        "idempotent": replay,
                        "recordId": row["record_id"],
                        "receiptId": row["receipt_id"],
                        "referenceId": row["reference_id"],
                        "error": None,
                    }
                )
            failed = sum(1 for r in results if r["status"] == "FAILED")
            answer = {
                "totalQueued": len(results) - failed,
                "totalFailed": failed,
                "results": results,
            }
            self._remember(idempotency_key, body, answer)
        self.deliveries.kick()
        return answer

    def record(self, record_id: str) -> dict[str, Any]:
        row = self.store.delta_by("record_id", record_id)
        if row is None:
            raise LedgerError(404, "NOT_FOUND", f"No delta with recordId {record_id}.")
        return answers.delta(row, self.clock())
