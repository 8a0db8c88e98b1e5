"""The scope rules of derive, compare, checkpoints and receipts, checked before sending.

``startingCheckpoint`` excludes every time scope; ``period`` excludes the other three;
``startDate``/``endDate`` go together and only with ``timePreset`` ``custom`` or none.
"""

from __future__ import annotations

from typing import Any

from ._errors import InvalidScopeCombinationError
from ._validate import period, text, utc_iso

__all__ = ["CHECKPOINT_SCOPE_KEYS", "SCOPE_KEYS", "scope_fields"]

SCOPE_KEYS = frozenset({"period", "time_preset", "start_date", "end_date"})
CHECKPOINT_SCOPE_KEYS = SCOPE_KEYS | {"starting_checkpoint", "starting_checkpoint_type"}


def scope_fields(merged: dict[str, Any]) -> dict[str, Any]:
    """Validate the scope fields the official client checks, and return them in wire form.

    ``startingCheckpoint`` excludes every time scope; ``period`` excludes the other three;
    ``startDate``/``endDate`` go together and only with ``timePreset`` ``custom`` or none.
    """
    out: dict[str, Any] = {}
    p = merged.get("period")
    preset = merged.get("time_preset")
    start = merged.get("start_date")
    end = merged.get("end_date")
    checkpoint = merged.get("starting_checkpoint")
    if checkpoint is not None and any(v is not None for v in (p, preset, start, end)):
        raise InvalidScopeCombinationError(
            "startingCheckpoint cannot be combined with period, timePreset, startDate, or endDate.",
            field="startingCheckpoint",
        )
    if p is not None and any(v is not None for v in (preset, start, end)):
        raise InvalidScopeCombinationError(
            "period cannot be combined with timePreset, startDate, or endDate.", field="period"
        )
    if preset is not None and preset != "custom" and (start is not None or end is not None):
        raise InvalidScopeCombinationError(
            "startDate/endDate can only be used when timePreset is 'custom' or omitted.",
            field="timePreset",
        )
    if preset == "custom" and (start is None or end is None):
        raise InvalidScopeCombinationError(
            "timePreset='custom' requires both startDate and endDate.", field="timePreset"
        )
    if (start is None) != (end is None):
        raise InvalidScopeCombinationError(
            "startDate and endDate must be provided together.",
            field="startDate" if start is None else "endDate",
        )
    if p is not None:
        out["period"] = period(p)
    if preset is not None:
        out["timePreset"] = text(preset, "timePreset")
    if start is not None:
        out["startDate"] = utc_iso(start, "startDate")
        out["endDate"] = utc_iso(end, "endDate")
    if checkpoint is not None:
        out["startingCheckpoint"] = text(checkpoint, "startingCheckpoint")
    if merged.get("starting_checkpoint_type") is not None:
        out["startingCheckpointType"] = text(
            merged["starting_checkpoint_type"], "startingCheckpointType"
        )
    return out
