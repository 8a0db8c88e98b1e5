"""``iter_deltas``: every delta of one customer, page after page, async and blocking."""

from __future__ import annotations

from decimal import Decimal

import pacspace_sync
from pacspace_async import PacSpace
from pacspace_sandbox import Sandbox


async def test_every_delta_of_a_customer_page_after_page(
    pacspace_client: PacSpace, pacspace_sandbox: Sandbox
) -> None:
    items = [
        {"customerId": "cust_a", "delta": "-0.5", "reason": "usage", "referenceId": f"a{i}"}
        for i in range(230)
    ] + [{"customerId": "cust_b", "delta": -1, "reason": "usage", "referenceId": "b0"}]
    await pacspace_client.balance.emit_many(items, return_exceptions=False)
    seen = [d async for d in pacspace_client.balance.iter_deltas("cust_a", page_size=100)]
    assert len(seen) == 230 and len({d.record_id for d in seen}) == 230
    assert {d.customer_id for d in seen} == {"cust_a"}
    assert sum(d.delta or 0 for d in seen) == Decimal("-115.0")
    assert {d.reference_id for d in seen} == {f"a{i}" for i in range(230)}
    assert all(d.status == "VERIFIED" and d.verified_at for d in seen)
    this_month = seen[0].created_at[:7] if seen[0].created_at else ""
    in_month = [d async for d in pacspace_client.balance.iter_deltas("cust_a", period=this_month)]
    assert len(in_month) == 230
    none = [d async for d in pacspace_client.balance.iter_deltas("cust_a", period="2001-01")]
    assert none == []


def test_the_blocking_twin_iterates_too(pacspace_sync_client: pacspace_sync.PacSpace) -> None:
    for i in range(3):
        pacspace_sync_client.balance.emit("cust_s", -2, "usage", reference_id=f"s{i}")
    deltas = list(pacspace_sync_client.balance.iter_deltas("cust_s", page_size=2))
    assert sorted(d.reference_id or "" for d in deltas) == ["s0", "s1", "s2"]
