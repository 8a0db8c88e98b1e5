"""What the sandbox answers: the wire shape of each stored row. No I/O, no rules.

The ledger decides; these functions only say how a delta, a checkpoint, a receipt
document or a webhook event looks on the wire.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import simplejson

from ._proofs import proof_hash
from ._scope import iso
from ._store import Row

__all__ = ["checkpoint", "delta", "event_data", "receipt_document", "status"]

PROCESSING_AFTER = 0.3
"""A delta reads ``PROCESSING`` once this fraction of its latency has passed."""


def status(row: Row | dict[str, Any], now: float) -> str:
    if now >= row["verify_at"]:
        return str(row["outcome"])
    if now >= row["created_at"] + (row["verify_at"] - row["created_at"]) * PROCESSING_AFTER:
        return "PROCESSING"
    return "QUEUED"


def delta(row: Row | dict[str, Any], now: float) -> dict[str, Any]:
    state = status(row, now)
    verified = state == "VERIFIED"
    return {
        "recordId": row["record_id"],
        "receiptId": row["receipt_id"],
        "status": state,
        "customerId": row["customer_id"],
        "delta": Decimal(row["amount"]),
        "reason": row["reason"],
        "referenceId": row["reference_id"],
        "metadata": None
        if row["metadata"] is None
        else simplejson.loads(row["metadata"], use_decimal=True),
        "sequenceNumber": row["sequence_number"],
        "createdAt": iso(row["created_at"]),
        "verifiedAt": iso(row["verify_at"]) if verified else None,
        "failedAt": iso(row["verify_at"]) if state == "FAILED" else None,
        "proofHash": proof_hash(row["content_hash"]) if verified else None,
        "contentHash": row["content_hash"],
    }


def event_data(row: Row | dict[str, Any]) -> dict[str, Any]:
    amount = Decimal(row["amount"])
    verified = row["outcome"] == "VERIFIED"
    data: dict[str, Any] = {
        "recordId": row["record_id"],
        "receiptId": row["receipt_id"],
        "customerId": row["customer_id"],
        "deltaIndex": row["sequence_number"],
        "sequenceNumber": row["sequence_number"],
        "status": "verified" if verified else "failed",
        "delta": {
            "customerId": row["customer_id"],
            "amount": amount,
            "reason": row["reason"],
            "referenceId": row["reference_id"],
        },
        "proof": {
            "proofHash": proof_hash(row["content_hash"]),
            "contentHash": row["content_hash"],
        },
        "verification": {
            "verified": verified,
            "latencyMs": round((row["verify_at"] - row["created_at"]) * 1000),
            "discrepancies": [],
        },
    }
    if not verified:
        data["error"] = "Verification failed: the sandbox failed this delta (--fail-rate)."
        data["failedAt"] = iso(row["verify_at"])
    return data


def checkpoint(row: Row, now: float) -> dict[str, Any]:
    verified = now >= row["verify_at"]
    return {
        "checkpointId": row["checkpoint_id"],
        "customerId": row["customer_id"],
        "proofRoot": row["proof_root"],
        "deltaCount": row["delta_count"],
        "computedBalance": Decimal(row["computed_balance"]),
        "status": "VERIFIED" if verified else "PENDING",
        "scope": json.loads(row["scope"]),
        "windowStart": iso(row["window_start"]),
        "windowEnd": iso(row["window_end"]),
        "createdAt": iso(row["created_at"]),
        "verifiedAt": iso(row["verify_at"]) if verified else None,
    }


def receipt_document(row: Row, now: float, base_url: str) -> dict[str, Any]:
    state = status(row, now)
    return {
        "receiptId": row["receipt_id"],
        "recordId": row["record_id"],
        "customerId": row["customer_id"],
        "amount": Decimal(row["amount"]),
        "reason": row["reason"],
        "referenceId": row["reference_id"],
        "status": state,
        "proofHash": proof_hash(row["content_hash"]) if state == "VERIFIED" else None,
        "contentHash": row["content_hash"],
        "createdAt": iso(row["created_at"]),
        "verifiedAt": iso(row["verify_at"]) if state == "VERIFIED" else None,
        "links": {
            "permalink": f"{base_url}/receipts/{row['receipt_id']}",
            "pdf": f"{base_url}/api/v1/balance/receipts/{row['receipt_id']}/pdf",
            "verify": f"{base_url}/api/v1/verify/{proof_hash(row['content_hash'])}",
        },
    }
