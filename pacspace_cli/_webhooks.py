"""``pacspace webhooks trigger``: send one signed sample delivery to a local endpoint."""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from typing import Any

import httpx

from pacspace_async import Webhooks

__all__ = ["SAMPLES", "trigger"]

SAMPLES: dict[str, dict[str, Any]] = {
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


def trigger(args: argparse.Namespace) -> int:
    now = time.time()
    event_id = f"evt_{int(now * 1000)}_{uuid.uuid4().hex[:6]}"
    payload = {
        "id": event_id,
        "event": args.event,
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
        "tenantId": "tenant_sample",
        "createdAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
        "data": SAMPLES.get(args.event, {"note": "a sample of an event this SDK does not know"}),
    }
    headers, body = Webhooks(args.secret).sign(json.dumps(payload))
    headers.update(
        {"Content-Type": "application/json", "X-Webhook-Event": args.event, "X-Event-ID": event_id}
    )
    try:
        response = httpx.post(args.to, content=body, headers=headers, timeout=10)
    except httpx.HTTPError as exc:
        print(f"could not deliver to {args.to}: {exc}", file=sys.stderr)
        return 1
    print(f"{args.event} {event_id} -> {args.to}: HTTP {response.status_code}")
    return 0 if response.is_success else 1
