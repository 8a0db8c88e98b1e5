"""The adaptive in-flight limit of status checks, driven with numbers."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pacspace_async._concurrency import LEAST_WINDOW, MIN_LIMIT, InFlightLimit

from ._clock import VirtualTime
from .test_waiter import FakeServer, waiter_on


def settle(
    limit: InFlightLimit, rtt_of: Callable[[int], float], answers: int = 2000, start: float = 0.0
) -> float:
    """Answer ``answers`` checks, each with the limit in use and ``rtt_of(in_flight)``;
    returns the clock at the end."""
    now = start
    for _ in range(answers):
        in_flight = limit.current
        rtt = rtt_of(in_flight)
        now += rtt / in_flight
        limit.answered(rtt, in_flight, now)
    return now


def test_a_server_answering_one_at_a_time_gets_a_few_in_flight() -> None:
    """0.3 ms of server per request, shared: more in flight only makes each answer later."""
    limit = InFlightLimit(32)
    settle(limit, lambda k: 0.0001 + 0.0003 * k)
    assert 3 <= limit.current <= 8


def test_a_distant_api_with_room_gets_the_maximum_soon() -> None:
    limit = InFlightLimit(32)
    settle(limit, lambda k: 0.05, answers=120)  # about seven round trips
    assert limit.current == 32
    settle(limit, lambda k: 0.05 * (1 + 0.01 * (k % 3)))  # jitter: stays
    assert limit.current == 32


def test_the_limit_stays_within_its_bounds() -> None:
    one = InFlightLimit(1)
    settle(one, lambda k: 0.01)
    assert one.current == 1
    crowded = InFlightLimit(32)
    settle(crowded, lambda k: 0.001 * k**3)  # far worse than shared: few in flight
    assert MIN_LIMIT <= crowded.current <= 5  # it shrinks only while more than 4 queue
    before = crowded.current
    for bad in (0.0, -1.0, float("nan")):
        crowded.answered(bad, 32, 0.0)  # ignored
    assert crowded.current == before


def test_a_route_that_got_slower_for_good_is_relearnt() -> None:
    """The least round trip comes from the last one or two windows: a move to a distant
    region (every trip ten times longer, no queue) lowers the limit for a while only."""
    limit = InFlightLimit(32)
    now = settle(limit, lambda k: 0.001, answers=200)
    assert limit.current == 32
    now = settle(limit, lambda k: 0.01, answers=50, start=now)
    assert limit.current < 32  # looks like a queue at first
    now = settle(limit, lambda k: 0.01, answers=400_000, start=now)
    assert now > 2 * LEAST_WINDOW
    assert limit.current == 32


async def test_the_waiter_keeps_few_checks_at_a_server_that_shares_itself() -> None:
    """Processor sharing: each request takes 0.5 ms per request in flight. The waiter
    keeps a handful in flight, not its maximum of 32, and every wait ends."""
    vt = VirtualTime()
    server = FakeServer(vt, latency=0, rtt=lambda k: 0.0005 * k)
    waiter = waiter_on(vt, server.fetch, first_check=0.2, max_in_flight=32)
    for i in range(500):
        server.register(f"r{i}")
    await vt.gather(*(waiter.wait(f"r{i}", timeout=30, poll_interval=2) for i in range(500)))
    assert server.peak <= 10
    assert waiter.limit.current <= 10
    await waiter.aclose()


@pytest.mark.parametrize("maximum", [1, 4])
async def test_the_waiter_never_exceeds_max_status_requests(maximum: int) -> None:
    vt = VirtualTime()
    server = FakeServer(vt, latency=0, rtt=0.05)
    waiter = waiter_on(vt, server.fetch, first_check=0.2, max_in_flight=maximum)
    for i in range(100):
        server.register(f"r{i}")
    await vt.gather(*(waiter.wait(f"r{i}", timeout=60, poll_interval=2) for i in range(100)))
    assert server.peak == maximum
    await waiter.aclose()
