"""One summary from ``queue_summary``: validation and its window.

A summary is ``customerId``, ``delta`` (exact, finite, non-zero), optional ``reason``,
``referenceId``, ``metadata``, ``windowStart``/``windowEnd`` (ISO-8601, both or neither).

Without a window, a summary covers the current window of the profile's cadence, aligned
to UTC: the UTC day for ``daily``, the 6-hour block (00, 06, 12, 18 h) for ``sub_daily``,
and the current UTC second for ``immediate``. Its ``referenceId``, when the caller gives
none, is minted by the store that queues it (see :mod:`._identity`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any, TypeVar, overload

from .. import _validate as check
from .._errors import ValidationError
from .._time import iso_z, parse_iso
from ..types import APIModel
from ._stores import OPEN, Record

__all__ = ["INVALID", "as_model", "iso", "normalize", "parse_iso", "window_for"]

INVALID = "INVALID_SUMMARY"
_FIELDS = frozenset(
    {"customerId", "delta", "reason", "referenceId", "metadata", "windowStart", "windowEnd"}
)


def _invalid(field: str, message: str) -> ValidationError:
    return ValidationError(f"{field} {message}", 0, INVALID, field=field)


iso = iso_z


def _checked(rule: Callable[[Any, str], str], value: str, field: str) -> str:
    """``rule``'s verdict on ``value``, as an ``INVALID_SUMMARY`` error naming ``field``."""
    try:
        return rule(value, field)
    except ValidationError as exc:
        raise _invalid(field, exc.message.removeprefix(f"{field} ")) from None


def _instant(value: Any, field: str) -> str:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and value.strip():
        try:
            moment = parse_iso(value)
        except ValueError:
            raise _invalid(field, f"must be an ISO-8601 timestamp, not {value!r}") from None
    else:
        raise _invalid(field, f"must be an ISO-8601 timestamp, not {value!r}")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return iso(moment)


def window_for(now: float, cadence_ms: int) -> tuple[str, str]:
    """The UTC-aligned window of ``cadence_ms`` containing ``now`` (1 s when 0)."""
    size = max(cadence_ms, 1000) / 1000
    start = math.floor(now / size) * size
    return (
        iso(datetime.fromtimestamp(start, timezone.utc)),
        iso(datetime.fromtimestamp(start + size, timezone.utc)),
    )


def normalize(
    summary: Mapping[str, Any], *, default_reason: str, cadence_ms: int, now: float
) -> Record:
    """A validated summary, ready to queue, or a ``ValidationError`` naming the field."""
    if not isinstance(summary, Mapping):
        raise _invalid("summary", "must be a dict")
    unknown = set(summary) - _FIELDS
    if unknown:
        raise _invalid(sorted(unknown)[0], "is not a summary field")
    customer = summary.get("customerId")
    if not isinstance(customer, str) or not customer.strip():
        raise _invalid("customerId", "is required and must be a non-empty string")
    customer = _checked(check.identifier, customer.strip(), "customerId")
    try:
        delta = check.amount(summary.get("delta"), "delta")
    except ValidationError as exc:
        raise _invalid("delta", f"must be a finite number ({exc.message})") from None
    if delta == 0:
        raise _invalid("delta", "must not be zero")
    has_start, has_end = (
        summary.get("windowStart") is not None,
        summary.get("windowEnd") is not None,
    )
    if has_start != has_end:
        raise _invalid("windowEnd" if has_start else "windowStart", "must be given with the other")
    if has_start:
        start = _instant(summary["windowStart"], "windowStart")
        end = _instant(summary["windowEnd"], "windowEnd")
        if parse_iso(end) <= parse_iso(start):
            raise _invalid("windowEnd", "must be later than windowStart")
    else:
        start, end = window_for(now, cadence_ms)
    reason = summary.get("reason") or default_reason
    if not isinstance(reason, str) or not reason.strip():
        raise _invalid("reason", "must be a non-empty string")
    reason = _checked(check.label, reason, "reason")
    metadata = summary.get("metadata") or {}
    try:
        metadata = check.json_object(metadata, "metadata")
    except ValidationError as exc:
        raise _invalid("metadata", exc.message) from None
    ref = summary.get("referenceId")
    if ref is not None and (not isinstance(ref, str) or not ref.strip()):
        raise _invalid("referenceId", "must be a non-empty string")
    if ref is not None:
        ref = _checked(check.identifier, ref.strip(), "referenceId")
    return Record(
        customer_id=customer,
        reason=reason,
        window_start=start,
        window_end=end,
        window_end_at=parse_iso(end).timestamp(),
        delta=delta,
        metadata=metadata,
        reference_id=ref,
        queued_at=iso(datetime.fromtimestamp(now, timezone.utc)),
        state=OPEN,
    )


M = TypeVar("M", bound=APIModel)


@overload
def as_model(cls: type[M], record: Record) -> M: ...
@overload
def as_model(cls: type[dict[str, Any]], record: Record) -> dict[str, Any]: ...
def as_model(cls: type[Any], record: Record) -> Any:
    """A record as one of the public answers (or, for ``onDrop``, as the summary's dict)."""
    fields = record.answer()
    if cls is dict:
        return {k: v for k, v in fields.items() if k in _SUMMARY_FIELDS}
    names = cls._wire_names
    return cls.model_validate({k: v for k, v in fields.items() if k in names})


_SUMMARY_FIELDS = (
    "customerId",
    "delta",
    "reason",
    "referenceId",
    "windowStart",
    "windowEnd",
    "metadata",
)
