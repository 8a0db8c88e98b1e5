"""Time at the edge: ISO-8601 instants with a ``Z``, and durations with one unit each.

A duration given as a keyword argument is seconds, always (a ``timedelta`` says its own
unit); one given in a seed-style options dict is milliseconds, as in pacspace-sdk. No
value changes the unit: ``timeout=1000`` is 1000 seconds.
"""

from __future__ import annotations

import math
import warnings
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx

from ._errors import ValidationError

__all__ = [
    "Duration",
    "Timeout",
    "client_timeout",
    "from_ms",
    "iso_z",
    "parse_iso",
    "seconds",
]

Duration = float | timedelta
"""Seconds (an ``int`` or ``float``), or a ``timedelta``."""

Timeout = float | timedelta | httpx.Timeout
"""A client timeout: seconds, a ``timedelta``, or an ``httpx.Timeout`` for per-phase limits."""

_SUSPICIOUS = 1000.0
"""A request timeout of this many seconds or more is most likely milliseconds by mistake."""


def iso_z(moment: datetime) -> str:
    """``2026-01-01T00:00:00Z``: UTC, with a ``Z`` (a naive ``datetime`` is taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def parse_iso(text: str) -> datetime:
    """An ISO-8601 instant; ``Z`` (or ``z``) is UTC and so is a time that names no zone.

    Raises ``ValueError`` for anything else.
    """
    raw = text.strip()
    if raw.endswith(("Z", "z")):
        raw = raw[:-1] + "+00:00"
    moment = datetime.fromisoformat(raw)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def seconds(value: Any, field: str) -> float:
    """A positive, finite duration in seconds, from seconds or a ``timedelta``."""
    if isinstance(value, timedelta):
        value = value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValidationError(
            f"{field} must be a number of seconds > 0 or a timedelta, not {value!r}", field=field
        )
    if not math.isfinite(value):
        raise ValidationError(f"{field} must be finite", field=field)
    return float(value)


def from_ms(value: Any, field: str) -> timedelta:
    """A seed-style duration in milliseconds, as a ``timedelta``."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValidationError(
            f"{field} must be a number of milliseconds > 0, not {value!r}", field=field
        )
    if not math.isfinite(value):
        raise ValidationError(f"{field} must be finite", field=field)
    return timedelta(milliseconds=value)


def client_timeout(value: Timeout | None, default: float) -> httpx.Timeout:
    """The client's request timeout: seconds, a ``timedelta``, or an ``httpx.Timeout``.

    A number of 1000 seconds or more is kept as given but warned about: pacspace-sdk's
    ``timeout=30_000`` meant milliseconds (``PacSpace.init`` still reads it so).
    """
    if value is None:
        return httpx.Timeout(default)
    if isinstance(value, httpx.Timeout):
        return value
    limit = seconds(value, "timeout")
    if limit >= _SUSPICIOUS and not isinstance(value, timedelta):
        warnings.warn(
            f"timeout={value!r} is {limit:g} seconds. Keyword timeouts are seconds; "
            "pacspace-sdk's milliseconds are read by PacSpace.init(...), "
            "or pass timedelta(milliseconds=...).",
            UserWarning,
            stacklevel=4,
        )
    return httpx.Timeout(limit)
