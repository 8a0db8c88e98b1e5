"""``pacspace webhooks trigger``: send one signed sample delivery to a local endpoint."""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid

import httpx

from pacspace_async import Webhooks
from pacspace_sandbox import SAMPLE_EVENTS

__all__ = ["trigger"]


def trigger(args: argparse.Namespace) -> int:
    now = time.time()
    event_id = f"evt_{int(now * 1000)}_{uuid.uuid4().hex[:6]}"
    payload = {
        "id": event_id,
        "event": args.event,
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
        "tenantId": "tenant_sample",
        "createdAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
        "data": SAMPLE_EVENTS.get(
            args.event, {"note": "a sample of an event this SDK does not know"}
        ),
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
