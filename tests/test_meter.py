"""The in-process meter: exact sums per customer, reason and window; no I/O on add."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest

import pacspace_async as ps
from pacspace_async import PacSpace
from pacspace_async.summaries import Meter

from .conftest import BASE, KEY


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Recorder:
    def __init__(self) -> None:
        self.queued: list[dict[str, object]] = []

    def queue(self, summary: dict[str, object]) -> None:
        self.queued.append(summary)


DAY = 1_779_840_000  # 2026-05-27T00:00:00Z


def test_adds_are_exact_and_grouped() -> None:
    meter = Meter(Recorder(), window="1d", reason="usage", clock=Clock(DAY + 10))
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
    recorder, clock = Recorder(), Clock(DAY + 10)
    meter = Meter(recorder, window="1h", clock=clock)
    meter.add("c", -3)
    meter.add("zero", 1)
    meter.add("zero", -1)
    clock.now += 3600
    meter.add("c", -4)  # a new window: still no I/O
    assert recorder.queued == []
    assert meter.close_windows() == 1  # the zero total is not a summary
    assert recorder.queued == [
        {
            "customerId": "c",
            "delta": -3,
            "reason": "usage",
            "windowStart": "2026-05-27T00:00:00Z",
            "windowEnd": "2026-05-27T01:00:00Z",
        }
    ]
    assert [s["delta"] for s in meter.snapshot()] == [-4]


def test_thread_safe() -> None:
    meter = Meter(Recorder(), clock=Clock(DAY))
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
    meter = Meter(Recorder())
    with pytest.raises(ps.ValidationError) as caught:
        meter.add(customer, amount)  # type: ignore[arg-type]
    assert caught.value.code == "INVALID_SUMMARY" and caught.value.field == field


def test_bad_windows() -> None:
    for window in ("1w", "7h", "0s", 5):
        with pytest.raises(ps.ValidationError):
            Meter(Recorder(), window=window)  # type: ignore[arg-type]


async def test_meter_windows_reach_the_queue_through_the_client() -> None:
    pac = PacSpace(
        KEY, base_url=BASE, submission={"autoStart": False, "autoFlushOnShutdown": False}
    )
    meter = pac.balance.meter(window="1s")
    meter._clock = Clock(DAY)  # type: ignore[method-assign]
    meter.add("c", -7)
    meter._clock = Clock(DAY + 5)  # type: ignore[method-assign]
    assert pac.balance._summaries.close_meter_windows() == 1
    assert pac.balance.get_summary_queue_state().queued_count == 1
