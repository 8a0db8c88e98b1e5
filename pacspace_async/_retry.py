"""When to retry, and how long to wait.

Retryable: 408, 429 (but not ``CADENCE_LIMIT`` or ``PLAN_LIMIT_EXCEEDED``), 500, 502,
503, 504, and failures to get an answer at all. The server's ``Retry-After`` (seconds or
an HTTP date) or ``retryAfterSeconds`` wins; otherwise exponential backoff from 0.5 s with
jitter, capped at :data:`MAX_BACKOFF`. A server asking for more than
:data:`MAX_RETRY_AFTER` seconds is not retried at all: the error surfaces with its
``retry_after`` so the caller decides, instead of a call that silently hangs for minutes.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Mapping
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any

from ._errors import (
    APIConnectionError,
    CadenceLimitError,
    PacSpaceError,
    PlanLimitExceededError,
)

__all__ = ["RETRYABLE_STATUS", "backoff", "is_retryable", "parse_retry_after"]

RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
BASE_BACKOFF = 0.5
MAX_BACKOFF = 8.0
MAX_RETRY_AFTER = 60.0


def is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, APIConnectionError):
        return True
    if isinstance(exc, (CadenceLimitError, PlanLimitExceededError)):
        return False
    if isinstance(exc, PacSpaceError) and exc.status_code in RETRYABLE_STATUS:
        return exc.retry_after is None or exc.retry_after <= MAX_RETRY_AFTER
    return False


def backoff(attempt: int, exc: BaseException | None) -> float:
    """Seconds to sleep before retry number ``attempt`` (1-based)."""
    if isinstance(exc, PacSpaceError) and exc.retry_after is not None:
        return max(0.0, exc.retry_after)
    base: float = min(MAX_BACKOFF, BASE_BACKOFF * (2 ** (attempt - 1)))
    return base * (0.75 + 0.5 * random.random())


def parse_retry_after(headers: Mapping[str, str], error: Mapping[str, Any] | None) -> float | None:
    """Seconds from ``retryAfterSeconds`` in the body, else the ``Retry-After`` header."""
    if error is not None:
        value = error.get("retryAfterSeconds")
        if isinstance(value, (int, float, Decimal, str)) and not isinstance(value, bool):
            seconds = _seconds(value)
            if seconds is not None:
                return seconds
    raw = headers.get("retry-after")
    if not raw:
        return None
    raw = raw.strip()
    seconds = _seconds(raw)
    if seconds is not None:
        return seconds
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    return _clamp(when.timestamp() - time.time())


MAX_HINT = 86_400.0 * 365
"""Hints are clamped here: a year is "not retried" as surely as 10**400 s, and stays a float."""


def _seconds(value: int | float | Decimal | str) -> float | None:
    try:
        seconds = float(value)
    except (ValueError, OverflowError):
        return MAX_HINT if isinstance(value, int) else None
    return None if math.isnan(seconds) else _clamp(seconds)


def _clamp(seconds: float) -> float:
    return min(max(0.0, seconds), MAX_HINT)
