"""Reading request fields: each failure is a 400 that names the field."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

# The one place the client and the sandbox share a number: what an id or a short text
# may hold. The rules below stay the sandbox's own, an independent check of the client.
from pacspace_async.limits import MAX_ID_LENGTH, MAX_TEXT_LENGTH

from ._errors import invalid

__all__ = [
    "MAX_AMOUNT",
    "MAX_ID_LENGTH",
    "MAX_PLACES",
    "amount",
    "integer",
    "json_object",
    "optional_text",
    "text",
]

# The sandbox's own copy of the client's amount rule (pacspace_async/_validate.py), on
# purpose: the sandbox stays an independent check of what the client sends.
MAX_AMOUNT = Decimal(10) ** 15
"""Amounts must be smaller than this in magnitude."""
MAX_PLACES = 18
"""Amounts may have at most this many decimal places (trailing zeros aside)."""
MAX_TEXT = MAX_TEXT_LENGTH
MAX_INTEGER = 2**53 - 1
"""Integers in queries stay below this (what JSON and SQLite carry exactly)."""


def text(body: Mapping[str, Any], name: str, *, max_length: int = MAX_TEXT) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise invalid(name, "is required and must be a non-empty string")
    if len(value) > max_length:
        raise invalid(name, f"must be at most {max_length} characters")
    if not value.isprintable() and any(ord(c) < 32 or 127 <= ord(c) < 160 for c in value):
        raise invalid(name, "must not contain control characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise invalid(name, "must be valid Unicode (no lone surrogates)") from None
    return value


def optional_text(body: Mapping[str, Any], name: str, *, max_length: int = MAX_TEXT) -> str | None:
    return None if body.get(name) is None else text(body, name, max_length=max_length)


def amount(value: Any, name: str) -> Decimal:
    """A JSON number, kept exact (the body was parsed with decimals)."""
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise invalid(name, "must be a number")
    result = Decimal(value)
    if not result.is_finite():
        raise invalid(name, "must be finite")
    if abs(result) >= MAX_AMOUNT:
        raise invalid(name, f"must be smaller than {MAX_AMOUNT:.0E} in magnitude")
    if _places(result) > MAX_PLACES:
        raise invalid(name, f"may have at most {MAX_PLACES} decimal places")
    return result


def _places(value: Decimal) -> int:
    """Decimal places, trailing zeros aside, exactly (no context rounding)."""
    _, digits, exponent = value.as_tuple()
    if not isinstance(exponent, int) or exponent >= 0:
        return 0
    trailing = 0
    for digit in reversed(digits):
        if digit or trailing >= -exponent:
            break
        trailing += 1
    return -exponent - trailing


def integer(
    params: Mapping[str, Any], name: str, *, default: int, low: int = 0, high: int | None = None
) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise invalid(name, "must be an integer") from None
    top = MAX_INTEGER if high is None else high
    if value < low or value > top:
        raise invalid(name, f"must be between {low} and {top}")
    return value


def json_object(body: Mapping[str, Any], name: str) -> dict[str, Any] | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise invalid(name, "must be a JSON object")
    return value
