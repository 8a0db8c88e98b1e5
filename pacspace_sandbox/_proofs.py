"""How the sandbox fingerprints deltas and builds proof roots. **Ours**, not PacSpace's.

PacSpace has not published its proof algorithm; this module is the only place the
sandbox defines one, so it can change in one place when they do:

* a delta's ``contentHash`` is SHA-256 over its canonical JSON (sorted keys, no spaces:
  ``recordId``, ``customerId``, ``amount`` as a decimal string, ``reason``,
  ``referenceId``, ``createdAt``);
* its ``proofHash`` is SHA-256 over ``b"pacspace-proof:" + contentHash bytes``;
* a proof root is the Merkle root (SHA-256 of left‖right, an odd node paired with
  itself) over the ``contentHash`` bytes of the verified deltas in sequence order; the
  root of no deltas is SHA-256 of the empty string. Hashes travel as ``0x`` + hex.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from decimal import Decimal

__all__ = ["content_hash", "merkle_root", "proof_hash"]


def content_hash(
    record_id: str,
    customer_id: str,
    amount: Decimal,
    reason: str,
    reference_id: str | None,
    created_at: str,
) -> str:
    canonical = json.dumps(
        {
            "amount": str(amount),
            "createdAt": created_at,
            "customerId": customer_id,
            "reason": reason,
            "recordId": record_id,
            "referenceId": reference_id,
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return "0x" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def proof_hash(content: str) -> str:
    return "0x" + hashlib.sha256(b"pacspace-proof:" + bytes.fromhex(content[2:])).hexdigest()


def merkle_root(leaves: Iterable[str]) -> str:
    level = [bytes.fromhex(leaf[2:]) for leaf in leaves]
    if not level:
        return "0x" + hashlib.sha256(b"").hexdigest()
    while len(level) > 1:
        if len(level) % 2:
            level.append(level[-1])
        level = [hashlib.sha256(level[i] + level[i + 1]).digest() for i in range(0, len(level), 2)]
    return "0x" + level[0].hex()
