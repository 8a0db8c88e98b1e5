"""JSON with exact decimals.

The standard library reads JSON fractions as ``float`` and cannot write a ``Decimal`` as a
number. Amounts must stay exact from the caller's argument to the wire and back, so both
directions go through simplejson with ``use_decimal=True``: answers are read with
fractions as ``Decimal``, and a ``Decimal`` is written as the number it is (``-42.5``,
never a string and never via ``float``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import simplejson

__all__ = ["dumps", "loads"]


# One encoder and one decoder for every call: ``simplejson.dumps``/``loads`` with
# non-default options build a new one each time (about 2 µs each way, on every request).
_ENCODER = simplejson.JSONEncoder(use_decimal=True, separators=(",", ":"), allow_nan=False)
_DECODER = simplejson.JSONDecoder(parse_float=Decimal)


def dumps(value: Any) -> str:
    """Serialise ``value`` compactly. Raises ``TypeError``/``ValueError`` for what JSON
    cannot carry (sets, objects, NaN, infinities)."""
    return _ENCODER.encode(value)


def loads(data: str | bytes) -> Any:
    """Parse JSON, reading fractional numbers as ``Decimal``. Raises ``ValueError`` for
    anything that is not JSON, nested too deeply to parse included."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        return _DECODER.decode(text)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
