"""Checks at the edge: each takes a value and the field's name, returns the value as sent,
or raises a ValidationError naming the field. Nothing is sent before they pass."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from . import _json
from ._errors import ValidationError
from ._time import iso_z, parse_iso
from .limits import MAX_ID_LENGTH, MAX_TEXT_LENGTH

__all__ = [
    "MAX_AMOUNT",
    "MAX_DEPTH",
    "MAX_PLACES",
    "adjusts",
    "amount",
    "header_name",
    "header_value",
    "identifier",
    "json_object",
    "label",
    "non_negative_int",
    "optional_text",
    "period",
    "positive_int",
    "positive_number",
    "string_list",
    "text",
    "utc_iso",
]

_PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def text(value: Any, field: str) -> str:
    """A non-empty string."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{field} must be a non-empty string", field=field)
    return value


_UNSENDABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
"""Control characters (NUL, CR, LF, DEL, C1) and lone surrogates: no id or label may carry
them (the service refuses them, PostgreSQL cannot store NUL, a log line would split)."""


def identifier(value: Any, field: str, max_length: int = MAX_ID_LENGTH) -> str:
    """An id the service takes (``customerId``, ``referenceId``): a non-blank string of at
    most :data:`~pacspace_async.limits.MAX_ID_LENGTH` characters, with no control
    character and no lone surrogate."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{field} must be a non-empty string", field=field)
    if len(value) > max_length:
        raise ValidationError(
            f"{field} must be at most {max_length} characters, not {len(value):,}", field=field
        )
    bad = _UNSENDABLE.search(value)
    if bad is not None:
        char = bad.group()
        what = "a lone surrogate" if "\ud800" <= char <= "\udfff" else "a control character"
        raise ValidationError(
            f"{field} must not contain {what} ({char!r} at position {bad.start()})", field=field
        )
    return value


def label(value: Any, field: str) -> str:
    """A short text such as a ``reason``: the rules of :func:`identifier`, at most
    :data:`~pacspace_async.limits.MAX_TEXT_LENGTH` characters."""
    return identifier(value, field, MAX_TEXT_LENGTH)


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


Amount = int | float | str | Decimal
"""An amount as a caller may give it; it travels as an exact ``Decimal``."""


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


def adjusts(value: Any, field: str) -> dict[str, Any]:
    """What a correction adjusts: ``{"referenceId": ...}`` (pacspace-sdk's README) or
    ``{"recordId": ...}`` (its tests), exactly one of them; a bare string is a referenceId."""
    if isinstance(value, str):
        value = {"referenceId": value}
    adjusted = json_object(value, field)
    named = [key for key in ("referenceId", "recordId") if key in adjusted]
    if len(named) != 1:
        raise ValidationError(
            f"{field} must name exactly one of referenceId or recordId"
            + (", not both" if named else ""),
            field=field,
        )
    identifier(adjusted[named[0]], f"{field}.{named[0]}")
    return adjusted


def string_list(value: Any, field: str) -> list[str]:
    """A list (or tuple) of non-empty strings."""
    if not isinstance(value, (list, tuple)) or not all(
        isinstance(item, str) and item for item in value
    ):
        raise ValidationError(f"{field} must be a list of non-empty strings", field=field)
    return list(value)
