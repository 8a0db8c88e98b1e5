"""Reading request fields: each failure is a 400 that names the field."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from ._errors import invalid

__all__ = ["MAX_AMOUNT", "MAX_PLACES", "amount", "integer", "json_object", "optional_text", "text"]

# The sandbox's own copy of the client's amount rule (pacspace_async/_options.py), on
# purpose: the sandbox stays an independent check of what the client sends.
MAX_AMOUNT = Decimal(10) ** 15
"""Amounts must be smaller than this in magnitude."""
MAX_PLACES = 18
"""Amounts may have at most this many decimal places (trailing zeros aside)."""
MAX_TEXT = 256


def text(body: Mapping[str, Any], name: str, *, max_length: int = MAX_TEXT) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise invalid(name, "is required and must be a non-empty string")
    if len(value) > max_length:
        raise invalid(name, f"must be at most {max_length} characters")
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
    exponent = result.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > MAX_PLACES:
        raise invalid(name, f"may have at most {MAX_PLACES} decimal places")
    return result


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
    if value < low or (high is not None and value > high):
        raise invalid(name, f"must be between {low} and {high}" if high else f"must be >= {low}")
    return value


def json_object(body: Mapping[str, Any], name: str) -> dict[str, Any] | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise invalid(name, "must be a JSON object")
    return value
