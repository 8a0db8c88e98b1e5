"""When to check a record's status: the waiter's policy, with no clock and no I/O.

The scheduler (:mod:`._waiter`) owns time, futures and requests; it asks this policy,
passing times in, how long to wait before each check and tells it what it learnt. So the
policy is a plain object a test can drive with numbers.

* **Learnt.** A record's first check goes at the 75th percentile of the verification times
  seen in the last minute (at least the newest 256) and its second at the 95th: about
  1.25 status requests per delta, with a median lag of a fraction of their spread. Later
  steps grow by 1.6x with jitter up to the wait's ``poll_interval``.
* **Cold.** With fewer than :data:`LEARNT` samples, :data:`SCOUTS` records scout (checked
  early and often, each check :data:`SCOUT_PRECISION` of its age after the last) while the
  rest hold at :data:`HOLD` times the default; the scheduler brings them forward as soon
  as the scouts have learnt.
* **Without timestamps.** A status answer that carries ``createdAt``/``verifiedAt`` tells
  the verification time exactly. One that does not tells only that the record verified
  before the check that saw it (at the first check: some time before; later: between the
  last pending check and this one). Learning such a check's age as the verification time
  would push every next schedule later, burst after burst. So then only scouts teach:
  checked early and in small steps, they see every verification time within
  :data:`SCOUT_PRECISION`, fast ones included. While learnt, about one new record in
  :data:`WARM_SCOUT_EVERY` scouts too, starting below the fastest times seen
  (:data:`WARM_SCOUT_START`, each at its own phase of the steps so that together they
  see finely). Every other record's first check is current-status data: whether the
  record had verified by then is an unbiased look at the distribution at that age. When
  :data:`STATUS_BATCH` first checks planned on the current estimate have answered, the
  share found verified (``p``) rescales it by the scouts' ``FIRST_QUANTILE``-quantile over
  their ``p``-quantile: always toward the aim, by at most :data:`STATUS_MOVE`. Checks
  planned before a rescale do not count again, so a burst moves it once.
* **Fed.** While webhook deliveries flow (one within :data:`FEED_WINDOW` seconds), a first
  check only looks for a lost delivery (:meth:`PollPolicy.fallback`).
"""

from __future__ import annotations

import bisect
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from ._time import parse_iso
from .types import RecordStatus

__all__ = [
    "DEFAULT_FIRST_CHECK",
    "FEED_WINDOW",
    "HOLD",
    "LEARNT",
    "MIN_STEP",
    "SCOUTS",
    "SCOUT_FIRST",
    "SCOUT_PRECISION",
    "STATUS_BATCH",
    "STATUS_MOVE",
    "WARM_SCOUT_EVERY",
    "WARM_SCOUT_START",
    "FirstCheck",
    "PollPolicy",
    "CheckSchedule",
    "server_seconds",
]

DEFAULT_FIRST_CHECK = 1.0
"""Seconds before the first check while nothing has been learnt yet."""
DEFAULT_STEP = 0.2
"""The step after it, as a fraction of the default first check."""
MIN_STEP = 0.05
"""No two checks of one record closer than this (seconds)."""
MIN_STEP_SHARE = 0.1
"""Nor, once learnt, closer than this fraction of the first check's delay: an estimate
from a few early samples understates the spread."""
GROWTH = 1.6
"""Each later step is this much longer, up to the wait's ``poll_interval``."""
JITTER = 0.2
"""Steps vary by this fraction either way, so that records started together spread out."""
FIRST_QUANTILE = 0.75
SECOND_QUANTILE = 0.95
"""The first check at the 75th percentile of what was learnt, the second at the 95th:
about 1.25 status requests per delta, and a median lag of a quarter of the spread
(``python -m benchmarks.schedules`` compares the alternatives)."""
LEARN_MOVE = 0.2
"""Pending first checks move when the estimate moves by more than this fraction."""
FEED_WINDOW = 600.0
"""A webhook delivery within this many seconds means deliveries are flowing."""
SAMPLE_WINDOW = 60.0
"""Verification times learnt within this many seconds of the newest one count, so that a
burst is learnt whole: records settle fastest first, and the newest few hundred alone
would describe only the slow end of the last burst."""
RECENT_SAMPLES = 256
"""At least this many of the newest verification times count, however old."""
MAX_SAMPLES = 4096
LEARNT = 10
"""Samples of verification time before the estimate replaces the default: most of the
scouts' (the first to report are the fastest; an estimate from them alone is early)."""
SCOUTS = 16
"""With nothing learnt, this many records scout: checked early and often, so that the
rest wait for what they learn instead of all polling on a guess (a cold start)."""
SCOUT_FIRST = 0.25
"""A scout's first check and first step, as a fraction of the default first check."""
SCOUT_PRECISION = 0.15
"""A scout's next check comes this fraction of its age later: what it learns is within
about 7 % of the truth, whatever the verification time. Finer scouting learns sooner,
which pays when the client's own CPU is the bottleneck and costs polls when the server
is; neither setting wins both (``python -m benchmarks.schedules`` shows the two regimes)."""
HOLD = 3.0
"""Until the scouts have learnt, the others' first check, as a multiple of the default
(brought forward as soon as an estimate exists)."""
LONGEST_FIRST = 4
"""A first check never waits more than this many poll intervals."""
WARM_SCOUT_EVERY = 64
"""Against a service without timestamps, once learnt, about one new record in this many
scouts (at most :data:`SCOUTS` at once): about 0.1 extra status requests per delta."""
STATUS_BATCH = 256
"""Without timestamps: first checks planned on one estimate that rescale it."""
STATUS_MOVE = 1.25
"""One rescale moves the estimate by at most this factor either way."""
WARM_SCOUT_START = 0.7
"""A warm scout's first check, as a fraction of the 5th percentile learnt: below the
fastest times seen, so that a service getting faster is seen too."""


@dataclass(frozen=True)
class CheckSchedule:
    """The policy's tunables (defaults: the constants above), for comparing schedules
    (``benchmarks/schedules.py``)."""

    first_quantile: float = FIRST_QUANTILE
    second_quantile: float = SECOND_QUANTILE
    scouts: int = SCOUTS
    learnt: int = LEARNT
    scout_first: float = SCOUT_FIRST
    scout_precision: float = SCOUT_PRECISION
    hold: float = HOLD


@dataclass(frozen=True)
class FirstCheck:
    """A new record's plan: check after ``delay`` seconds, then steps of ``step``."""

    delay: float
    step: float
    scout: bool = False
    generation: int = -1
    """The estimate it was planned on (``-1``: not planned on one; see
    :meth:`PollPolicy.first_check_found`)."""


class PollPolicy:
    """What the waiter has learnt about verification times, and the schedule it implies."""

    def __init__(
        self,
        first_check: float = DEFAULT_FIRST_CHECK,
        *,
        schedule: CheckSchedule | None = None,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.first_check = first_check
        self.schedule = schedule if schedule is not None else CheckSchedule()
        self._rng = rng
        self._arrivals: deque[tuple[float, float]] = deque()
        """(when learnt, seconds), oldest first."""
        self._sorted: list[float] = []
        """The same seconds, sorted: quantiles are an index away."""
        self._estimated: float | None = None
        self.timestamps: bool | None = None
        """Whether the service's status answers carry timestamps (``None``: not seen)."""
        self._scale = 1.0
        """Without timestamps: the first checks' calibration of the scouts' estimate."""
        self._generation = 0
        self._batch = [0, 0]
        """First checks planned on this generation of the scale: answered, verified."""

    @property
    def learnt(self) -> bool:
        return len(self._sorted) >= self.schedule.learnt

    def estimate(self) -> tuple[float, float]:
        """(first check delay, first step) from what has been learnt."""
        if not self.learnt:
            return self.first_check, max(MIN_STEP, self.first_check * DEFAULT_STEP)
        scale = self._scale if self.timestamps is False else 1.0
        first = scale * self._quantile(self.schedule.first_quantile)
        second = scale * self._quantile(self.schedule.second_quantile)
        return first, max(MIN_STEP, second - first, first * MIN_STEP_SHARE)

    def fallback(self) -> float:
        """With deliveries flowing, a first check waits for a lost delivery only."""
        return self.estimate()[0] * 2 + 1.0

    def plan(self, *, poll_interval: float, feeding: bool, scouting: int) -> FirstCheck:
        """The first check of a new wait, given how many records scout already."""
        first, step = self.estimate()
        step = min(step, poll_interval)
        if feeding:
            return FirstCheck(self.fallback(), step)
        plan = self.schedule
        if self.learnt:
            if (
                self.timestamps is False
                and scouting < plan.scouts
                and self._rng() * WARM_SCOUT_EVERY < 1
            ):
                phase = (1 + plan.scout_precision) ** self._rng()
                start = WARM_SCOUT_START * self._scale * self._quantile(0.05) * phase
                return FirstCheck(min(max(MIN_STEP, start), poll_interval), poll_interval, True)
            delay = min(first, poll_interval * LONGEST_FIRST)
            return FirstCheck(delay, step, generation=self._generation)
        if scouting < plan.scouts:
            # Scouts started together check out of step (each a fraction of a step after
            # the last), so that as a group they look every few percent of the age.
            phase = (1 + plan.scout_precision) ** (scouting / plan.scouts)
            delay = max(MIN_STEP, self.first_check * plan.scout_first * phase)
            return FirstCheck(delay, poll_interval, True)
        return FirstCheck(min(self.first_check * plan.hold, poll_interval * LONGEST_FIRST), step)

    def brought_forward(self, poll_interval: float, scouts_age: float | None = None) -> float:
        """A held record's first check, once the estimate exists (from its start).

        The first estimate comes from the scouts that verified first: when it appears,
        only some of them have (the :data:`LEARNT` fastest), so the first check's
        percentile lies no earlier than the scouts' age (``scouts_age``). Without that
        floor every held record would be due at once, and wait its turn in one burst.
        """
        first = self.estimate()[0]
        if scouts_age is not None:
            first = max(first, scouts_age)
        return min(first, poll_interval * LONGEST_FIRST)

    def next_check(
        self, *, age: float, step: float, poll_interval: float, scout: bool
    ) -> tuple[float, float]:
        """After a check that found the record pending: (seconds to the next, next step)."""
        step = min(step, poll_interval)
        if scout:
            return min(max(MIN_STEP, self.schedule.scout_precision * age), step), step
        jittered = step * (1 - JITTER + 2 * JITTER * self._rng())
        return max(MIN_STEP, jittered), min(step * GROWTH, poll_interval)

    def _quantile(self, q: float) -> float:
        values = self._sorted
        position = q * (len(values) - 1)
        low = int(position)
        high = min(low + 1, len(values) - 1)
        return values[low] + (values[high] - values[low]) * (position - low)

    def learn(self, seconds: float, now: float) -> bool:
        """Add one verification time, learnt at ``now``; whether pending first checks
        should move (the estimate exists now, or moved by more than :data:`LEARN_MOVE`)."""
        self._arrivals.append((now, seconds))
        bisect.insort(self._sorted, seconds)
        arrivals = self._arrivals
        while len(arrivals) > MAX_SAMPLES or (
            len(arrivals) > RECENT_SAMPLES and arrivals[0][0] < now - SAMPLE_WINDOW
        ):
            _, old = arrivals.popleft()
            del self._sorted[bisect.bisect_left(self._sorted, old)]
        if not self.learnt:
            return False
        first = self.estimate()[0]
        known = self._estimated
        if known is not None and abs(first - known) <= LEARN_MOVE * known:
            return False
        self._estimated = first
        return True

    def first_check_found(self, generation: int, verified: bool) -> bool:
        """A record's first check, planned on estimate ``generation``, found it settled or
        not: without timestamps, a batch of them rescales the estimate (see the module's
        notes). Returns whether it moved."""
        if self.timestamps is not False or generation != self._generation or not self.learnt:
            return False
        batch = self._batch
        batch[0] += 1
        batch[1] += verified
        if batch[0] < STATUS_BATCH:
            return False
        samples = len(self._sorted)
        share = min(max(batch[1] / batch[0], 0.5 / samples), 1 - 0.5 / samples)
        at, aim = self._quantile(share), self._quantile(self.schedule.first_quantile)
        if at > 0:
            self._scale *= min(max(aim / at, 1 / STATUS_MOVE), STATUS_MOVE)
        self._generation += 1
        self._batch = [0, 0]
        return True

    def teaches(self, *, timestamped: bool, scout: bool) -> bool:
        """Whether a check that found a record settled is a lesson: always with the
        service's timestamps; without them only from a scout (see the module's notes)."""
        self.timestamps = timestamped
        return timestamped or scout

    @staticmethod
    def observed(
        started: float, sent: float, last_pending: float | None, server: float | None
    ) -> float:
        """The verification time a check revealed: the server's own (``createdAt`` to
        ``verifiedAt``) when it sent it, else midway between the last pending check and
        this one, else this check's age."""
        if server is not None:
            return server
        if last_pending is not None:
            return (last_pending + sent) / 2 - started
        return sent - started


def server_seconds(status: RecordStatus) -> float | None:
    """The verification time a status answer states (``createdAt`` to ``verifiedAt`` or
    ``failedAt``), or ``None`` when it states none."""
    end = status.verified_at or status.failed_at
    if not status.created_at or not end:
        return None
    start_at, end_at = _instant(status.created_at), _instant(end)
    if start_at is None or end_at is None:
        return None
    seconds = (end_at - start_at).total_seconds()
    return seconds if seconds >= 0 else None


def _instant(text: object) -> datetime | None:
    """A server timestamp, as UTC when it names no zone (so two of them always subtract)."""
    if not isinstance(text, str):
        return None
    try:
        return parse_iso(text)
    except ValueError:
        return None
