"""The waiter's policy on its own: numbers in, numbers out, no clock and no loop."""

from __future__ import annotations

import random

import pytest

from pacspace_async._polling import (
    HOLD,
    LEARNT,
    MIN_STEP,
    SCOUT_FIRST,
    SCOUTS,
    STATUS_BATCH,
    STATUS_MOVE,
    WARM_SCOUT_EVERY,
    PollPolicy,
)


def fixed_rng() -> float:
    return 0.5  # no jitter


def learnt(values: list[float], now: float = 0.0) -> PollPolicy:
    policy = PollPolicy(1.0, rng=fixed_rng)
    for value in values:
        policy.learn(value, now)
    return policy


def test_a_cold_start_sends_scouts_out_of_step_and_holds_the_rest() -> None:
    policy = PollPolicy(1.0)
    plans = [policy.plan(poll_interval=2.0, feeding=False, scouting=n) for n in range(20)]
    scouts = [p for p in plans if p.scout]
    assert len(scouts) == SCOUTS
    delays = [p.delay for p in scouts]
    assert delays == sorted(delays) and len(set(delays)) == SCOUTS  # out of step
    assert delays[0] == pytest.approx(SCOUT_FIRST) and delays[-1] < SCOUT_FIRST * 1.15
    held = plans[SCOUTS:]
    assert all(p.delay == HOLD and not p.scout for p in held)


def test_a_scout_looks_again_a_fraction_of_its_age_later() -> None:
    policy = PollPolicy(1.0)
    delay, step = policy.next_check(age=1.0, step=2.0, poll_interval=2.0, scout=True)
    assert delay == pytest.approx(0.15) and step == 2.0
    delay, _ = policy.next_check(age=0.1, step=2.0, poll_interval=2.0, scout=True)
    assert delay == MIN_STEP


def test_the_estimate_exists_once_enough_is_learnt_and_then_moves_checks() -> None:
    policy = PollPolicy(1.0)
    moved = [policy.learn(1.0 + i / 100, 0.0) for i in range(LEARNT)]
    assert moved == [False] * (LEARNT - 1) + [True]
    assert policy.learnt
    assert not policy.learn(1.05, 0.0)  # a small move: pending checks stay
    assert policy.learn(5.0, 0.0) is False or policy.estimate()[0] > 1.0


def test_learnt_checks_go_at_the_75th_then_the_95th_percentile() -> None:
    values = [1.0 + i / 1000 for i in range(1001)]  # 1.0 .. 2.0
    policy = learnt(values)
    first, step = policy.estimate()
    assert first == pytest.approx(1.75)
    assert first + step == pytest.approx(1.95)
    plan = policy.plan(poll_interval=2.0, feeding=False, scouting=0)
    assert (plan.delay, plan.step, plan.scout) == (pytest.approx(1.75), pytest.approx(0.2), False)


def test_a_burst_settling_fastest_first_is_learnt_whole() -> None:
    """Records settle in order of their verification time: the last few hundred to settle
    are the slow end. The estimate must describe the whole burst (it used to keep only
    the newest 256, which put the next burst's first checks near the slowest)."""
    rng = random.Random(3)
    burst = sorted(rng.uniform(1.0, 1.4) for _ in range(1000))
    policy = PollPolicy(1.0)
    for index, seconds in enumerate(burst):
        policy.learn(seconds, now=100.0 + index * 0.0005)
    assert policy.estimate()[0] == pytest.approx(1.3, abs=0.02)  # the burst's p75


def test_old_lessons_give_way_to_new_ones() -> None:
    policy = PollPolicy(1.0)
    for index in range(2000):
        policy.learn(1.0, now=float(index) / 100)  # 20 s of 1-second verifications
    for index in range(300):
        policy.learn(5.0, now=100.0 + index)  # then the service slows down
    assert policy.estimate()[0] == pytest.approx(5.0)


def test_steps_grow_with_jitter_up_to_the_poll_interval() -> None:
    policy = learnt([1.0] * 20)
    low = PollPolicy(1.0, rng=lambda: 0.0)
    delay, step = policy.next_check(age=1.0, step=0.2, poll_interval=2.0, scout=False)
    assert (delay, step) == (pytest.approx(0.2), pytest.approx(0.32))
    assert low.next_check(age=1.0, step=0.2, poll_interval=2.0, scout=False)[0] == (
        pytest.approx(0.16)
    )
    _, capped = policy.next_check(age=1.0, step=1.9, poll_interval=2.0, scout=False)
    assert capped == 2.0


def test_with_deliveries_flowing_the_first_check_is_a_fallback() -> None:
    policy = learnt([1.0] * 20)
    plan = policy.plan(poll_interval=2.0, feeding=True, scouting=0)
    assert plan.delay == policy.fallback() == pytest.approx(3.0)


def test_what_a_check_reveals() -> None:
    observed = PollPolicy.observed
    assert observed(10.0, 11.5, 11.0, server=1.2) == 1.2  # the server's own times first
    assert observed(10.0, 11.5, 11.0, server=None) == pytest.approx(1.25)
    assert observed(10.0, 11.5, None, server=None) == pytest.approx(1.5)


def test_held_records_come_forward_no_earlier_than_the_scouts_age() -> None:
    """At the first estimate only the fastest scouts have verified: the percentile the
    held records wait for lies beyond the scouts' age, not at the fast scouts' times."""
    policy = learnt([1.0, 1.01, 1.02, 1.03, 1.04] * 2)  # ten fast scouts
    assert policy.brought_forward(2.0) == pytest.approx(1.03)  # their p75
    assert policy.brought_forward(2.0, scouts_age=1.3) == 1.3
    assert policy.brought_forward(0.2, scouts_age=1.3) == pytest.approx(0.8)  # 4 intervals


def test_without_timestamps_only_scouts_teach() -> None:
    policy = learnt([1.0 + i / 100 for i in range(40)])
    assert policy.teaches(timestamped=True, scout=False)
    assert not policy.teaches(timestamped=False, scout=False)  # a censored look
    assert policy.teaches(timestamped=False, scout=True)


def test_first_checks_rescale_the_estimate_toward_the_aim_once_per_batch() -> None:
    policy = learnt([1.0 + i / 100 for i in range(40)])  # 1.00-1.39, q75 about 1.29
    policy.teaches(timestamped=False, scout=True)
    first, _ = policy.estimate()
    plan = policy.plan(poll_interval=2, feeding=False, scouting=SCOUTS)  # no warm scout
    assert plan.generation == 0 and plan.delay == pytest.approx(first)
    for _ in range(STATUS_BATCH - 1):
        assert not policy.first_check_found(plan.generation, True)
    assert policy.first_check_found(plan.generation, True)  # all found verified: too late
    earlier, _ = policy.estimate()
    assert first / STATUS_MOVE <= earlier < first
    # What was planned on the old estimate does not count again (a burst moves it once).
    for _ in range(2 * STATUS_BATCH):
        assert not policy.first_check_found(plan.generation, False)
    assert policy.estimate()[0] == earlier
    later = policy.plan(poll_interval=2, feeding=False, scouting=SCOUTS)
    for _ in range(STATUS_BATCH):
        policy.first_check_found(later.generation, False)  # none verified: too early
    assert policy.estimate()[0] > earlier


def test_with_timestamps_first_checks_change_nothing() -> None:
    policy = learnt([1.0 + i / 100 for i in range(40)])
    policy.teaches(timestamped=True, scout=False)
    first = policy.estimate()
    for _ in range(2 * STATUS_BATCH):
        assert not policy.first_check_found(0, True)
    assert policy.estimate() == first


def test_without_timestamps_some_new_records_scout_below_the_fastest() -> None:
    draws = iter([0.0, 0.99, 0.99, 0.99])  # the first draw scouts, the rest do not
    policy = PollPolicy(1.0, rng=lambda: next(draws, 0.99))
    for i in range(40):
        policy.learn(1.0 + i / 100, 0.0)
    policy.teaches(timestamped=False, scout=True)
    scout = policy.plan(poll_interval=2, feeding=False, scouting=0)
    assert scout.scout and scout.generation == -1 and scout.delay < 1.0
    assert not policy.plan(poll_interval=2, feeding=False, scouting=0).scout
    assert WARM_SCOUT_EVERY >= 32  # a few per burst: about 0.1 polls per delta
