"""Arguments at the edge: seed-style option dicts, keyword arguments, and validation.

The seeds call ``emit(customer, delta, reason, {"referenceId": ...})``; Python users write
``emit(customer, delta, reason, reference_id=...)``. Both are translated here, once, into
one snake_case dict, and every value is checked before anything is sent. Option dicts keep
the seeds' units (``timeout`` and ``pollInterval`` in milliseconds); keyword arguments
use seconds.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from typing_extensions import TypedDict

from . import _json
from ._errors import InvalidScopeCombinationError, ValidationError
from ._time import Duration, from_ms, iso_z, parse_iso, seconds

__all__ = [
    "Amount",
    "RequestOptions",
    "RequestOverrides",
    "merge",
]

Amount = int | float | str | Decimal
"""An amount as a caller may give it; it travels as an exact ``Decimal``."""


class RequestOverrides(TypedDict, total=False):
    """Per-call overrides of the client's request settings."""

    timeout: Duration
    max_retries: int
    idempotency_key: str
    extra_headers: Mapping[str, str]
    chain_id: int
    credit_pool_id: int


# Seed (camelCase) option names and the keyword each one means.
_SEED_NAMES: dict[str, str] = {
    "referenceId": "reference_id",
    "startingBalance": "starting_balance",
    "startingCheckpoint": "starting_checkpoint",
    "startingCheckpointType": "starting_checkpoint_type",
    "timePreset": "time_preset",
    "startDate": "start_date",
    "endDate": "end_date",
    "customerId": "customer_id",
    "deltaPage": "delta_page",
    "deltaLimit": "delta_limit",
    "fromSequence": "from_sequence",
    "toSequence": "to_sequence",
    "pollInterval": "poll_interval_ms",
    "timeout": "timeout_ms",
    "maxRetries": "max_retries",
    "idempotencyKey": "idempotency_key",
    "headers": "extra_headers",
    "chainId": "chain_id",
    "creditPoolId": "credit_pool_id",
    "dashboardToken": "dashboard_token",
    "maxItems": "max_items",
}

REQUEST_KEYS = frozenset(
    {
        "timeout",
        "timeout_ms",
        "max_retries",
        "idempotency_key",
        "extra_headers",
        "chain_id",
        "credit_pool_id",
        "dashboard_token",
    }
)
SCOPE_KEYS = frozenset({"period", "time_preset", "start_date", "end_date"})
CHECKPOINT_SCOPE_KEYS = SCOPE_KEYS | {"starting_checkpoint", "starting_checkpoint_type"}

_PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def merge(
    options: Mapping[str, Any] | None,
    allowed: frozenset[str],
    kwargs: Mapping[str, Any],
) -> dict[str, Any]:
    """One snake_case dict from a seed options dict and keyword arguments.

    Unknown option names are an error (a typo must not be silently ignored), and so is
    the same setting given both ways with different values.
    """
    merged = {key: value for key, value in kwargs.items() if value is not None}
    if options is None:
        return merged
    if not isinstance(options, Mapping):
        raise ValidationError(
            f"options must be a dict, not {type(options).__name__}", field="options"
        )
    for key, value in options.items():
        name = _SEED_NAMES.get(key, key)
        if name not in allowed:
            raise ValidationError(f"unknown option {key!r}", field=key)
        if value is None:
            continue
        if name in merged and merged[name] != value:
            raise ValidationError(f"{key!r} is given twice with different values", field=key)
        merged[name] = value
    return merged


@dataclass(frozen=True, slots=True)
class RequestOptions:
    """The request settings of one call, after merging."""

    timeout: float | None = None
    max_retries: int | None = None
    idempotency_key: str | None = None
    extra_headers: Mapping[str, str] | None = None
    chain_id: int | None = None
    credit_pool_id: int | None = None
    dashboard_token: str | None = None

    @classmethod
    def take(cls, merged: dict[str, Any], *, wait: bool = False) -> RequestOptions:
        """Pop the request settings out of ``merged``.

        For waits ``timeout``/``timeout_ms`` belong to the wait, not the request, and stay.
        """
        if not merged.keys() & REQUEST_KEYS:
            return _NO_OVERRIDES
        timeout: float | None = None
        if not wait:
            timeout = merged.pop("timeout", None)
            timeout_ms = merged.pop("timeout_ms", None)
            if timeout is None and timeout_ms is not None:
                timeout = seconds(from_ms(timeout_ms, "timeout"), "timeout")
            elif timeout is not None:
                timeout = seconds(timeout, "timeout")
        max_retries = merged.pop("max_retries", None)
        if max_retries is not None and (
            not isinstance(max_retries, int) or isinstance(max_retries, bool) or max_retries < 0
        ):
            raise ValidationError("max_retries must be an integer >= 0", field="max_retries")
        key = merged.pop("idempotency_key", None)
        if key is not None:
            key = header_value(key, "idempotency_key")
        headers = merged.pop("extra_headers", None)
        if headers is not None:
            if not isinstance(headers, Mapping):
                raise ValidationError("extra_headers must be a mapping", field="extra_headers")
            headers = {
                header_name(name, "extra_headers"): header_value(value, f"extra_headers[{name!r}]")
                for name, value in headers.items()
            }
        chain_id = merged.pop("chain_id", None)
        credit_pool_id = merged.pop("credit_pool_id", None)
        token = merged.pop("dashboard_token", None)
        return cls(
            timeout=timeout,
            max_retries=max_retries,
            idempotency_key=key,
            extra_headers=headers,
            chain_id=None if chain_id is None else non_negative_int(chain_id, "chain_id"),
            credit_pool_id=None
            if credit_pool_id is None
            else non_negative_int(credit_pool_id, "credit_pool_id"),
            dashboard_token=None if token is None else header_value(token, "dashboard_token"),
        )


_NO_OVERRIDES = RequestOptions()


def text(value: Any, field: str) -> str:
    """A non-empty string."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{field} must be a non-empty string", field=field)
    return value


_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_HEADER_VALUE = re.compile(r"^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$")
MAX_HEADER_VALUE = 4096


def header_name(value: Any, field: str) -> str:
    """An HTTP header name (an RFC 9110 token)."""
    if not isinstance(value, str) or not _TOKEN.match(value):
        raise ValidationError(f"{field}: {value!r} is not a valid header name", field=field)
    return value


def header_value(value: Any, field: str) -> str:
    """A value that travels in a header: visible ASCII (spaces inside), no CR, LF or NUL,
    so that it can neither split the request nor be read differently by two libraries."""
    if not isinstance(value, str) or not value:
        raise ValidationError(f"{field} must be a non-empty string", field=field)
    if len(value) > MAX_HEADER_VALUE or not _HEADER_VALUE.match(value):
        raise ValidationError(
            f"{field} must be printable ASCII without control characters"
            f" (at most {MAX_HEADER_VALUE} characters)",
            field=field,
        )
    return value


def optional_text(value: Any, field: str) -> str | None:
    return None if value is None else text(value, field)


MAX_AMOUNT = Decimal(10) ** 15
"""Amounts are smaller than this in magnitude (the sandbox keeps its own copy of this rule)."""
MAX_PLACES = 18
"""Amounts have at most this many decimal places, trailing zeros aside (same in the sandbox)."""
_NUMBER = re.compile(r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,6})?$")


def amount(value: Any, field: str) -> Decimal:
    """An exact, finite amount within what the wire carries: smaller than 10^15 in magnitude,
    at most 18 decimal places. A float converts through its shortest repr (0.1 → 0.1);
    a string must be a plain ASCII number (no ``1_000``, no full-width digits)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise ValidationError(
            f"{field} must be a number (int, float, str or Decimal), not {type(value).__name__}",
            field=field,
        )
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValidationError(f"{field} must be finite, not {value}", field=field)
        result = Decimal(repr(value))
    elif isinstance(value, str):
        text = value.strip()
        if not _NUMBER.match(text):
            raise ValidationError(f"{field} is not a number: {value[:40]!r}", field=field)
        result = Decimal(text)
    elif isinstance(value, int):
        if abs(value) >= MAX_AMOUNT:
            raise ValidationError(f"{field} must be smaller than 1E+15 in magnitude", field=field)
        return Decimal(value)
    else:
        result = value
    if not result.is_finite():
        raise ValidationError(f"{field} must be finite, not {value}", field=field)
    if abs(result) >= MAX_AMOUNT:
        raise ValidationError(f"{field} must be smaller than 1E+15 in magnitude", field=field)
    if _places(result) > MAX_PLACES:
        raise ValidationError(
            f"{field} may have at most {MAX_PLACES} decimal places, not {value!r:.40}: "
            "round it, or pass a Decimal",
            field=field,
        )
    return result


def _places(value: Decimal) -> int:
    """Decimal places, trailing zeros aside; exact (``normalize()`` would round 1E-999999999
    to 0 under the default context and hide them)."""
    _, digits, exponent = value.as_tuple()
    if not isinstance(exponent, int) or exponent >= 0:
        return 0
    trailing = 0
    for digit in reversed(digits):
        if digit or trailing >= -exponent:
            break
        trailing += 1
    return -exponent - trailing


def positive_int(value: Any, field: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValidationError(f"{field} must be an integer >= 1, not {value!r}", field=field)
    return value


def non_negative_int(value: Any, field: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValidationError(f"{field} must be an integer >= 0, not {value!r}", field=field)
    return value


def positive_number(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValidationError(f"{field} must be a number > 0, not {value!r}", field=field)
    if not math.isfinite(value):
        raise ValidationError(f"{field} must be finite", field=field)
    return float(value)


def period(value: Any, field: str = "period") -> str:
    if not isinstance(value, str) or not _PERIOD.match(value):
        raise ValidationError(f"{field} must be YYYY-MM, not {value!r}", field=field)
    return value


def utc_iso(value: Any, field: str) -> str:
    """An ISO-8601 date or instant.

    Strings must parse and are sent as given (so our requests equal the official
    client's); ``datetime`` values become UTC with a ``Z`` (naive ones are taken as UTC).
    """
    if isinstance(value, datetime):
        return iso_z(value)
    if isinstance(value, str) and value.strip():
        try:
            parse_iso(value)
        except ValueError:
            pass
        else:
            return value
    raise ValidationError(
        f"{field} must be an ISO-8601 date or time (str or datetime), not {value!r}", field=field
    )


MAX_DEPTH = 32
"""How deeply metadata may nest (objects and arrays)."""


def json_object(value: Any, field: str) -> dict[str, Any]:
    """A dict that JSON can carry (checked by serialising it), nested at most
    :data:`MAX_DEPTH` levels."""
    if not isinstance(value, Mapping):
        raise ValidationError(f"{field} must be a JSON object (dict)", field=field)
    _check_depth(value, field)
    try:
        _json.dumps(value)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{field} is not JSON-serialisable: {exc}", field=field) from None
    return dict(value)


def _check_depth(value: Any, field: str) -> None:
    """Iteratively, so that a hostile nesting cannot exhaust the stack while being checked."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    seen = 0
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ValidationError(f"{field} nests deeper than {MAX_DEPTH} levels", field=field)
        children = item.values() if isinstance(item, Mapping) else item
        for child in children:
            seen += 1
            if isinstance(child, (Mapping, list, tuple)):
                stack.append((child, depth + 1))
        if seen > 100_000:
            raise ValidationError(f"{field} has more than 100,000 values", field=field)


def string_list(value: Any, field: str) -> list[str]:
    """A list (or tuple) of non-empty strings."""
    if not isinstance(value, (list, tuple)) or not all(
        isinstance(item, str) and item for item in value
    ):
        raise ValidationError(f"{field} must be a list of non-empty strings", field=field)
    return list(value)


def scope(merged: dict[str, Any]) -> dict[str, Any]:
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
