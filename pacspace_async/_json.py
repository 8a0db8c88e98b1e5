"""JSON with exact decimals.

The standard library reads JSON fractions as ``float`` and cannot write a ``Decimal`` as a
number. Amounts must stay exact from the caller's argument to the wire and back, so both
directions go through simplejson with ``use_decimal=True``: answers are read with
fractions as ``Decimal``, and a ``Decimal`` is written as the number it is (``-42.5``,
never a string and never via ``float``).
"""

from __future__ import annotations

from typing import Any

import simplejson

__all__ = ["dumps", "loads"]


def dumps(value: Any) -> str:
    """Serialise ``value`` compactly. Raises ``TypeError``/``ValueError`` for what JSON
    cannot carry (sets, objects, NaN, infinities)."""
    return simplejson.dumps(value, use_decimal=True, separators=(",", ":"), allow_nan=False)


def loads(data: str | bytes) -> Any:
    """Parse JSON, reading fractional numbers as ``Decimal``. Raises ``ValueError`` for
    anything that is not JSON, nested too deeply to parse included."""
    try:
        return simplejson.loads(data, use_decimal=True)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
