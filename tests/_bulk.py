"""Many deltas at once, written straight into a sandbox's store (100,000 through the API
would take minutes): all verified long before ``now``, amounts ``-1.5``."""

from __future__ import annotations

from pacspace_sandbox import Sandbox


def seed_deltas(sandbox: Sandbox, customer_id: str, count: int, now: float) -> None:
    """Append ``count`` verified deltas to ``customer_id`` (which must exist)."""
    store = sandbox.ledger.store
    with store.transaction():
        first = int(
            store.scalar("SELECT next_sequence FROM customers WHERE customer_id = ?", [customer_id])
        )
        rows = [
            (
                f"rec_bulk_{customer_id}_{i}",
                f"rcp_bulk_{customer_id}_{i}",
                customer_id,
                first + i,
                "-1.5",
                "usage",
                f"bulk-{first + i}",
                now - 200_000 + i,
                now - 200_000 + i + 1,
                "VERIFIED",
                "0" * 64,
            )
            for i in range(count)
        ]
        store._db.executemany(
            "INSERT INTO deltas (record_id, receipt_id, customer_id, sequence_number, amount,"
            " reason, reference_id, created_at, verify_at, outcome, content_hash)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            rows,
        )
        store.execute(
            "UPDATE customers SET next_sequence = ? WHERE customer_id = ?",
            [first + count, customer_id],
        )
