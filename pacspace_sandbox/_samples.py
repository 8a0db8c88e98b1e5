"""Sample event payloads, shaped as the product's docs show them: what ``pacspace webhooks
trigger`` and the inspector's "send a sample event" button deliver."""

from __future__ import annotations

from typing import Any

__all__ = ["SAMPLE_EVENTS"]

SAMPLE_EVENTS: dict[str, dict[str, Any]] = {
    "delta.verified": {
        "recordId": "r_sample",
        "receiptId": "rcpt_sample",
        "deltaIndex": 1042,
        "status": "verified",
        "customerId": "cust_8xKj2m",
        "delta": {
            "customerId": "cust_8xKj2m",
            "amount": -182,
            "reason": "gpu_burst_capacity",
            "referenceId": "job_abc123",
        },
        "proof": {"proofHash": "0x8f3a9b2c", "contentHash": "0x2d4e7f1a"},
        "verification": {"verified": True, "latencyMs": 1204, "discrepancies": []},
    },
    "delta.failed": {
        "recordId": "r_sample",
        "customerId": "cust_8xKj2m",
        "status": "failed",
        "delta": {"customerId": "cust_8xKj2m", "amount": -182, "reason": "gpu_burst_capacity"},
        "error": "Verification failed",
        "failedAt": "2026-02-10T14:32:01Z",
    },
    "checkpoint.verified": {
        "checkpointId": "cp_sample",
        "customerId": "cust_8xKj2m",
        "proofRoot": "0x71e07085",
        "deltaCount": 3,
        "computedBalance": -500,
        "status": "verified",
    },
    "record.committed": {
        "receiptId": "rcpt_sample",
        "status": "verified",
        "itemCount": 1,
        "records": [],
    },
    "record.failed": {
        "recordType": "usage",
        "entityId": "ent_sample",
        "seq": 7,
        "code": "REJECTED",
        "sentence": "The record was rejected.",
    },
}
