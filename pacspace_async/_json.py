"""JSON with exact decimals.

Amounts must stay exact from the caller's argument to the wire and back. Answers are read
by the standard library's C decoder with fractions as ``Decimal`` (``parse_float``), the
quicker of the two on every answer; requests are written by simplejson with
``use_decimal=True``, because the standard library cannot write a ``Decimal`` as the number
it is (``-42.5``, never a string and never via ``float``). A flat object of strings,
ints and finite decimals (an emit's body, the most frequent request) is written directly,
byte for byte what simplejson writes, at a third of the cost.
"""

from __future__ import annotations

import json
from decimal import Decimal
from json.encoder import encode_basestring_ascii as _string
from typing import Any

import simplejson

__all__ = ["dumps", "loads"]


# One encoder and one decoder for every call: ``simplejson.dumps``/``loads`` with
# non-default options build a new one each time (about 2 µs each way, on every request).
_ENCODER = simplejson.JSONEncoder(use_decimal=True, separators=(",", ":"), allow_nan=False)
_DECODER = json.JSONDecoder(parse_float=Decimal)
_OPENERS = ("{", "[")


def dumps(value: Any) -> str:
    """Serialise ``value`` compactly. Raises ``TypeError``/``ValueError`` for what JSON
    cannot carry (sets, objects, NaN, infinities)."""
    if type(value) is dict:
        flat = _flat(value)
        if flat is not None:
            return flat
    return _ENCODER.encode(value)


def _flat(value: dict[Any, Any]) -> str | None:
    """``value`` written as the encoder writes it, when its keys are strings and its
    values strings, ints or finite decimals; else ``None``."""
    parts = []
    for key, item in value.items():
        kind = type(item)
        if type(key) is not str:
            return None
        if kind is str:
            text = _string(item)
        elif kind is Decimal and item.is_finite():
            text = str(item)
        elif kind is int:
            text = int.__repr__(item)
        else:
            return None
        parts.append(_string(key) + ":" + text)
    return "{" + ",".join(parts) + "}"


def loads(data: str | bytes) -> Any:
    """Parse JSON, reading fractional numbers as ``Decimal``. Raises ``ValueError`` for
    anything that is not JSON, nested too deeply to parse included."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        if text[:1] in _OPENERS:  # the usual answer: no whitespace around one object
            value, end = _DECODER.raw_decode(text)
            if end == len(text):
                return value
        return _DECODER.decode(text)  # whitespace, or what follows named in its error
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
