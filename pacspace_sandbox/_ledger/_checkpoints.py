"""Checkpoints and their proofs, receipts, invoice proofs and the public verify."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from .. import _answers as answers
from .. import _fields as f
from .._errors import LedgerError, invalid
from .._proofs import merkle_root
from .._scope import Window, iso, resolve
from .._store import Row
from ._derive import Derive
from ._idempotency import Idempotency

__all__ = ["Checkpoints"]

ACCESS_HINT = "Anyone holding the proof root can verify it; no PacSpace account is needed."


class Checkpoints(Derive, Idempotency):
    def _register_proof(
        self, root: str, kind: str, customer_id: str | None, count: int, ref: str
    ) -> None:
        now = self.clock()
        self.store.add_proof(
            root, kind, customer_id, count, now, now + self.config.verify_latency, ref
        )

    def checkpoint(self, body: Any, idempotency_key: str | None) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise invalid("body", "must be a JSON object")
        customer_id = f.optional_text(body, "customerId", max_length=f.MAX_ID_LENGTH)
        mode = f.optional_text(body, "mode")
        now = self.clock()
        window, checkpoint = self._window(body, now)
        with self.store.transaction():
            seen = self._idempotent(idempotency_key, body)
            if seen is not None:
                original = self._original(
                    self.store.checkpoint(seen["checkpointId"]), seen["checkpointId"]
                )
                return {**answers.checkpoint(original, now), "idempotent": True}
            rows = self._verified(customer_id, window, checkpoint, now)
            root = merkle_root(r["content_hash"] for r in rows)
            balance = sum((Decimal(r["amount"]) for r in rows), Decimal(0))
            checkpoint_id = f"cp_{secrets.token_hex(8)}"
            self.store.insert(
                "checkpoints",
                {
                    "checkpoint_id": checkpoint_id,
                    "customer_id": customer_id,
                    "scope": json.dumps({**window.label, **({"mode": mode} if mode else {})}),
                    "window_start": window.start,
                    "window_end": window.end,
                    "proof_root": root,
                    "delta_count": len(rows),
                    "computed_balance": str(balance),
                    "last_seq": rows[-1]["seq"] if rows else 0,
                    "created_at": now,
                    "verify_at": now + self.config.verify_latency,
                },
            )
            self._register_proof(root, "checkpoint", customer_id, len(rows), checkpoint_id)
            stored = self.store.checkpoint(checkpoint_id)
            assert stored is not None
            answer = answers.checkpoint(stored, now)
            self.deliveries.enqueue(
                "checkpoint.verified",
                {**answer, "status": "verified", "verifiedAt": iso(stored["verify_at"])},
                stored["verify_at"],
            )
            self._remember(idempotency_key, body, {"checkpointId": checkpoint_id})
        self.deliveries.kick()
        return answer

    def list_checkpoints(self, params: Mapping[str, Any]) -> dict[str, Any]:
        limit = f.integer(params, "limit", default=25, low=1, high=100)
        offset = f.integer(params, "offset", default=0)
        overlap = None
        if any(params.get(k) for k in ("period", "timePreset", "startDate", "endDate")):
            window = resolve(params, self.clock())
            overlap = (window.start, window.end)
        total, rows = self.store.checkpoints_page(params.get("customerId"), overlap, limit, offset)
        now = self.clock()
        return {
            "checkpoints": [answers.checkpoint(r, now) for r in rows],
            "total": int(total),
            "limit": limit,
            "offset": offset,
        }

    def receipt(
        self, customer_id: str, base_url: str, params: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        """Receipt data over all of a customer's verified deltas, or an invoice proof over a scope."""
        now = self.clock()
        if self.store.customer(customer_id) is None:
            raise LedgerError(404, "NOT_FOUND", f"No customer {customer_id}.")
        if params is None:
            window, checkpoint = Window(0.0, float("inf"), {}), None
        else:
            window, checkpoint = self._window(params, now)
        rows = self._verified(customer_id, window, checkpoint, now)
        root = merkle_root(r["content_hash"] for r in rows)
        with self.store.transaction():
            self._register_proof(
                root,
                "receipt" if params is None else "invoice",
                customer_id,
                len(rows),
                customer_id,
            )
        host = base_url.split("://", 1)[-1].split("/", 1)[0]
        answer = {
            "customerId": customer_id,
            "proofRoot": root,
            "deltaCount": len(rows),
            "computedBalance": sum((Decimal(r["amount"]) for r in rows), Decimal(0)),
            "verifyUrl": f"{base_url}/verify/{root}",
            "verificationApiUrl": f"{base_url}/api/v1/verify/{root}",
            "verificationExplorerUrl": f"{base_url}/explorer/proof/{root}",
            "accessHint": ACCESS_HINT,
            "customerLinkUrl": f"{base_url}/c/{customer_id}?proof={root}",
            "customerLinkHost": host,
        }
        if params is not None:
            answer["scope"] = self._scope_label(window)
        return answer

    def verify(self, root: str, source: str) -> dict[str, Any]:
        if source not in ("db", "chain", "both"):
            raise invalid("source", "must be db, chain or both")
        row = self.store.proof(root)
        now = self.clock()
        db: dict[str, Any] = {"found": row is not None}
        if row is not None:
            db.update(
                {
                    "kind": row["kind"],
                    "customerId": row["customer_id"],
                    "deltaCount": row["delta_count"],
                    "recordedAt": iso(row["created_at"]),
                }
            )
        anchored = row is not None and now >= row["anchor_at"]
        chain = {"anchored": anchored, "chainId": 296}
        if anchored and row is not None:
            chain.update(
                {
                    "transactionHash": "0x" + hashlib.sha256(f"anchor:{root}".encode()).hexdigest(),
                    "anchoredAt": iso(row["anchor_at"]),
                }
            )
        answer: dict[str, Any] = {"proofRoot": root, "source": source}
        if source in ("db", "both"):
            answer["db"] = db
        if source in ("chain", "both"):
            answer["chain"] = chain
        answer["verified"] = {
            "db": db["found"],
            "chain": anchored,
            "both": db["found"] and anchored,
        }[source]
        return answer

    # -- receipt documents ----------------------------------------------------------------

    def receipts(self, customer_id: str, limit: int, base_url: str) -> dict[str, Any]:
        rows = self.store.newest_deltas(customer_id, limit)
        return {"receipts": [answers.receipt_document(r, self.clock(), base_url) for r in rows]}

    def find_receipt(self, receipt_id: str) -> Row:
        row = self.store.delta_by("receipt_id", receipt_id)
        if row is None:
            raise LedgerError(404, "NOT_FOUND", f"No receipt {receipt_id}.")
        return row
