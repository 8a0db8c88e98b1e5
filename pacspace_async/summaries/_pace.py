"""How fast summaries go out: as fast as the service says it can take them.

* When its answers carry ``X-RateLimit-Limit``/``-Remaining``/``-Reset``, requests go
  out back to back while the remaining room is above a margin (a tenth of the limit, at
  least one request, left for the rest of the application), then wait for the reset.
* Without such headers, :data:`DEFAULT_PER_MINUTE` requests a minute: pacspace-sdk's
  pace, the documented default.
* A ``maxRequestsPerMinute`` the caller set is a cap that always holds.
* A 429 (``Retry-After``) or a ``CADENCE_LIMIT`` waits as long as the service asks.

The pacer is pure (an injected clock): it says how long to wait, the flusher waits.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping

__all__ = ["DEFAULT_PER_MINUTE", "MARGIN", "Pacer"]

DEFAULT_PER_MINUTE = 10
"""Requests a minute when the service says nothing of its limits (pacspace-sdk's pace)."""
MARGIN = 0.1
"""The share of the service's limit left unused for the rest of the application."""
MAX_RESET_WAIT = 3600.0
"""The longest wait for a rate-limit window to reset that is believed (seconds)."""


class Pacer:
    def __init__(
        self,
        cap_per_minute: int | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.cap_per_minute = cap_per_minute
        self._clock = clock
        self._wall = wall
        self._not_before = 0.0
        self.per_minute: float = cap_per_minute or DEFAULT_PER_MINUTE
        """The pace in force, for ``outbox list``'s estimate."""
        self.told_by_service = False
        """Whether the service's headers set the pace."""

    def wait(self) -> float:
        """Seconds to wait before the next request."""
        return max(0.0, self._not_before - self._clock())

    def answered(self, headers: Mapping[str, str] | None) -> None:
        """A request was answered: its rate-limit headers (if any) set the next wait."""
        now = self._clock()
        gap = 60.0 / (self.cap_per_minute or DEFAULT_PER_MINUTE)
        room = _room(headers, self._wall())
        if room is None:
            self.told_by_service = False
            self.per_minute = self.cap_per_minute or DEFAULT_PER_MINUTE
            self._not_before = now + gap
            return
        limit, remaining, reset = room
        self.told_by_service = True
        margin = max(1, math.ceil(limit * MARGIN))
        capped = 60.0 / self.cap_per_minute if self.cap_per_minute else 0.0
        if remaining > margin:
            self._not_before = now + capped
            window = reset if reset > 0 else 60.0
            self.per_minute = min(limit * 60.0 / window, self.cap_per_minute or math.inf)
        else:
            self._not_before = now + max(capped, min(reset, MAX_RESET_WAIT))
            self.per_minute = min(
                max(limit - margin, 1) * 60.0 / max(reset, 1.0), self.cap_per_minute or math.inf
            )


def _room(headers: Mapping[str, str] | None, now: float) -> tuple[int, int, float] | None:
    """``(limit, remaining, seconds until reset)`` from the headers, or ``None`` when they
    are absent or unreadable. A reset larger than a year is a Unix time, not seconds."""
    if not headers:
        return None
    try:
        limit = int(float(headers["x-ratelimit-limit"]))
        remaining = int(float(headers["x-ratelimit-remaining"]))
    except (KeyError, ValueError, OverflowError):
        return None
    if limit <= 0 or remaining < 0:
        return None
    try:
        reset = float(headers.get("x-ratelimit-reset", "60"))
    except ValueError:
        reset = 60.0
    if not math.isfinite(reset):
        reset = 60.0
    if reset > 365 * 86400:
        reset -= now
    return limit, remaining, max(0.0, reset)
