"""How many status checks the waiter keeps in flight: a limit that follows round trips.

A server answering one request at a time (a local sandbox, a single worker) shares itself
between everything in flight, so 32 concurrent checks are each answered later than 4
queued ones would be, and every wait learns its outcome late. A distant API with capacity
to spare needs many in flight to cover the round trip. No fixed number suits both, so the
limit follows the answers, by TCP Vegas' rule: the least round trip seen lately is the
trip without a queue; by Little's law ``in_flight × (1 − least / rtt)`` requests are
queued behind. Fewer than :data:`ALPHA` queued (and the limit in use): one more in flight,
half a step per answer; more than :data:`BETA`: one fewer. Always between
:data:`MIN_LIMIT` and the client's ``max_status_requests``.

Pure (times are passed in), so tests drive it with numbers.
"""

from __future__ import annotations

from typing import Final

__all__ = ["ALPHA", "BETA", "MIN_LIMIT", "START", "InFlightLimit"]

MIN_LIMIT: Final = 2
"""Never fewer in flight: one answered while the next is on its way."""
START: Final = 2
"""The limit before any answer: the first round trips are measured with almost no queue
(the least one is the baseline), and where there is room the limit grows by half of
itself every round trip (2 to 32 in about seven)."""
ALPHA: Final = 3.0
"""Fewer requests than this queued at the server: room for one more in flight."""
BETA: Final = 6.0
"""More than this queued: one fewer in flight."""
STEP: Final = 0.5
"""How far one answer moves the limit."""
LEAST_WINDOW: Final = 30.0
"""The least round trip is taken over the current and the previous window of this many
seconds, so that a route that got slower for good is learnt within a minute."""


class InFlightLimit:
    """The number of status checks to keep in flight, at most ``maximum``."""

    def __init__(self, maximum: int) -> None:
        self.maximum = maximum
        self._limit = float(min(maximum, START))
        self._least: float | None = None
        self._previous: float | None = None
        self._window_end: float | None = None

    @property
    def current(self) -> int:
        return min(self.maximum, max(MIN_LIMIT, int(self._limit)))

    def answered(self, rtt: float, in_flight: int, now: float) -> None:
        """One check answered after ``rtt`` seconds, with ``in_flight`` checks (itself
        included) in flight when it was."""
        if not rtt > 0:
            return
        least = self._least_with(rtt, now)
        queued = in_flight * (1 - least / rtt)
        if queued > BETA:
            self._limit = max(float(MIN_LIMIT), self._limit - STEP)
        elif queued < ALPHA and in_flight >= self.current:
            self._limit = min(float(self.maximum), self._limit + STEP)

    def _least_with(self, rtt: float, now: float) -> float:
        if self._window_end is None or now >= self._window_end:
            self._previous, self._least = self._least, None
            self._window_end = now + LEAST_WINDOW
        if self._least is None or rtt < self._least:
            self._least = rtt
        return self._least if self._previous is None else min(self._least, self._previous)
