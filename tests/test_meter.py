"""The in-process meter: exact sums per customer, reason and window; no I/O on add."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest

import pacspace_async as ps
from pacspace_async import PacSpace
from pacspace_async.summaries import Meter
from pacspace_async.summaries._stores import MemoryStore
from pacspace_sandbox import Sandbox

from ._clock import Clock

DAY = 1_779_840_000  # 2026-05-27T00:00:00Z


def test_adds_are_exact_and_grouped() -> None:
    meter = Meter(None, window="1d", reason="usage", clock=Clock(DAY + 10))
    for _ in range(10):
        meter.add("c", 0.1)
    meter.add("c", "-2", reason="refund")
    meter.add("d", Decimal("1.5"))
    snapshot = {(s["customerId"], s["reason"]): s for s in meter.snapshot()}
    assert snapshot[("c", "usage")]["delta"] == Decimal("1.0")
    assert snapshot[("c", "refund")]["delta"] == -2 and snapshot[("d", "usage")][
        "delta"
    ] == Decimal("1.5")
    assert snapshot[("c", "usage")]["windowStart"] == "2026-05-27T00:00:00Z"
    assert snapshot[("c", "usage")]["windowEnd"] == "2026-05-28T00:00:00Z"


def test_closed_windows_become_summaries_and_nothing_else_happens_on_add() -> None:
    store, clock = MemoryStore(), Clock(DAY + 10)
    meter = Meter(None, window="1h", clock=clock)
    meter.add("c", -3)
    meter.add("zero", 1)
    meter.add("zero", -1)
    clock.now += 3600
    meter.add("c", -4)  # a new window: still no I/O
    assert store.stats().usage == 0 and store.count() == 0
    store.journal(meter.take(), "producer")  # what the scheduler does every tick
    assert store.seal(until=clock.now) == 1  # the zero total is not a summary
    [item] = store.claim(10).items
    assert (item.customer_id, item.delta, item.reason, item.window_start, item.window_end) == (
        "c",
        -3,
        "usage",
        "2026-05-27T00:00:00Z",
        "2026-05-27T01:00:00Z",
    )
    assert store.stats().usage == 1 and meter.snapshot() == []  # the open window waits


def test_thread_safe() -> None:
    meter = Meter(None, clock=Clock(DAY))
    threads = [
        threading.Thread(target=lambda: [meter.add("c", 1) for _ in range(5000)]) for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert meter.snapshot()[0]["delta"] == 20_000


@pytest.mark.parametrize(
    ("customer", "amount", "field"),
    [("", 1, "customerId"), ("c", float("nan"), "amount"), ("c", "x", "amount")],
)
def test_bad_adds(customer: str, amount: object, field: str) -> None:
    meter = Meter(None)
    with pytest.raises(ps.ValidationError) as caught:
        meter.add(customer, amount)  # type: ignore[arg-type]
    assert caught.value.code == "INVALID_SUMMARY" and caught.value.field == field


def test_bad_windows() -> None:
    for window in ("1w", "7h", "0s", 5):
        with pytest.raises(ps.ValidationError):
            Meter(None, window=window)  # type: ignore[arg-type]


async def test_meter_windows_reach_the_service_through_the_client(
    pacspace_client: PacSpace, pacspace_sandbox: Sandbox
) -> None:
    meter = pacspace_client.balance.meter(window="1s")
    meter._clock = Clock(DAY)  # type: ignore[method-assign]
    meter.add("c", -7)
    meter._clock = Clock(DAY + 5)  # type: ignore[method-assign]
    result = await pacspace_client.balance.flush_summaries()
    assert result.accepted == 1
    [row] = pacspace_sandbox.ledger.store.all("SELECT amount, reason FROM deltas")
    assert (Decimal(row["amount"]), row["reason"]) == (-7, "usage")
