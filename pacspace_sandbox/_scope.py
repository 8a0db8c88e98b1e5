"""Which deltas a derive, compare, checkpoint or invoice proof covers.

Scopes (all UTC, by the time a delta was recorded; windows are half-open [start, end)):

* none: the current month (the documented default);
* ``period=YYYY-MM``: that calendar month;
* ``timePreset``: ``current_month``, ``previous_month``, ``last_7_days``,
  ``last_30_days``, ``last_90_days``, ``year_to_date``, or ``custom`` with
  ``startDate``/``endDate`` (a date alone means midnight);
* ``startingCheckpoint``: everything recorded after that checkpoint, up to now.

A custom window may span at most :data:`MAX_WINDOW_DAYS` days (``SCOPE_TOO_WIDE``);
combinations the official client rejects are ``INVALID_SCOPE_COMBINATION`` here too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from ._errors import LedgerError, invalid

__all__ = ["MAX_WINDOW_DAYS", "PRESETS", "Window", "iso", "parse_instant", "resolve"]

MAX_WINDOW_DAYS = 366
PRESETS = (
    "current_month",
    "previous_month",
    "last_7_days",
    "last_30_days",
    "last_90_days",
    "year_to_date",
    "custom",
)
_PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


@dataclass(frozen=True)
class Window:
    start: float
    end: float
    label: dict[str, Any]
    checkpoint_id: str | None = None


def iso(epoch: float) -> str:
    """Epoch seconds as ISO-8601 UTC with milliseconds and a ``Z``."""
    moment = datetime.fromtimestamp(epoch, timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_instant(value: Any, field: str) -> datetime:
    if not isinstance(value, str) or not value.strip():
        raise invalid(field, "must be an ISO-8601 date or time")
    raw = value.strip()
    if raw.endswith(("Z", "z")):
        raw = raw[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise invalid(field, f"{value!r} is not an ISO-8601 date or time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def _month(year: int, month: int) -> tuple[datetime, datetime]:
    start = datetime(year, month, 1, tzinfo=timezone.utc)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=timezone.utc)
    return start, end


def _combination(message: str, field: str) -> LedgerError:
    return LedgerError(400, "INVALID_SCOPE_COMBINATION", message, field=field)


def resolve(params: Mapping[str, Any], now: float) -> Window:
    """The window named by ``params`` (wire names). Checkpoint scopes are resolved by the
    ledger, which knows checkpoints; here they only pass the combination rules."""
    period = params.get("period")
    preset = params.get("timePreset")
    start = params.get("startDate")
    end = params.get("endDate")
    checkpoint = params.get("startingCheckpoint")
    if checkpoint is not None and any(v is not None for v in (period, preset, start, end)):
        raise _combination(
            "startingCheckpoint cannot be combined with period, timePreset, startDate, or endDate.",
            "startingCheckpoint",
        )
    if period is not None and any(v is not None for v in (preset, start, end)):
        raise _combination(
            "period cannot be combined with timePreset, startDate, or endDate.", "period"
        )
    if preset is not None and preset != "custom" and (start is not None or end is not None):
        raise _combination(
            "startDate/endDate can only be used when timePreset is 'custom' or omitted.",
            "timePreset",
        )
    if (start is None) != (end is None):
        raise _combination("startDate and endDate must be provided together.", "startDate")
    if preset == "custom" and start is None:
        raise _combination("timePreset='custom' requires both startDate and endDate.", "timePreset")
    today = datetime.fromtimestamp(now, timezone.utc)
    midnight = today.replace(hour=0, minute=0, second=0, microsecond=0)
    if checkpoint is not None:
        return Window(0.0, now, {"startingCheckpoint": checkpoint}, checkpoint_id=str(checkpoint))
    if period is not None:
        match = _PERIOD.match(str(period))
        if not match:
            raise invalid("period", f"must be YYYY-MM, not {period!r}")
        lo, hi = _month(int(match.group(1)), int(match.group(2)))
        return Window(lo.timestamp(), hi.timestamp(), {"period": period})
    if start is not None:
        lo = parse_instant(start, "startDate")
        hi = parse_instant(end, "endDate")
        if hi <= lo:
            raise invalid("endDate", "must be after startDate")
        if hi - lo > timedelta(days=MAX_WINDOW_DAYS):
            raise LedgerError(
                400,
                "SCOPE_TOO_WIDE",
                f"A custom window may span at most {MAX_WINDOW_DAYS} days.",
                field="endDate",
            )
        return Window(
            lo.timestamp(),
            hi.timestamp(),
            {"timePreset": "custom", "startDate": start, "endDate": end},
        )
    preset = preset or "current_month"
    if preset == "current_month":
        lo, hi = _month(today.year, today.month)
    elif preset == "previous_month":
        index = today.year * 12 + today.month - 2
        lo, hi = _month(index // 12, index % 12 + 1)
    elif preset in ("last_7_days", "last_30_days", "last_90_days"):
        days = int(preset.split("_")[1])
        lo, hi = midnight - timedelta(days=days - 1), midnight + timedelta(days=1)
    elif preset == "year_to_date":
        lo, hi = datetime(today.year, 1, 1, tzinfo=timezone.utc), midnight + timedelta(days=1)
    else:
        raise invalid("timePreset", f"must be one of {', '.join(PRESETS)}, not {preset!r}")
    return Window(lo.timestamp(), hi.timestamp(), {"timePreset": preset})
