"""JSON with exact decimals.

The standard library reads JSON numbers with a fraction as ``float`` and cannot write a
``Decimal`` as a number. Amounts must stay exact from the caller's argument to the wire
and back, so answers are read with ``parse_float=Decimal`` and request bodies are written
by :func:`dumps`, which emits a ``Decimal`` as the number it is (``-42.5``, never a string
and never via ``float``). Everything else is delegated to :mod:`json`.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

__all__ = ["dumps", "loads"]

_encode_str = json.encoder.encode_basestring_ascii
_plain = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"), allow_nan=False).encode


def _has_decimal(value: Any) -> bool:
    if isinstance(value, Decimal):
        return True
    if isinstance(value, dict):
        return any(_has_decimal(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_has_decimal(v) for v in value)
    return False


def _write(value: Any, out: list[str]) -> None:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} is not a finite number")
        out.append(str(value))
    elif isinstance(value, dict):
        out.append("{")
        first = True
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"keys must be strings, not {type(key).__name__}")
            if not first:
                out.append(",")
            first = False
            out.append(_encode_str(key))
            out.append(":")
            _write(item, out)
        out.append("}")
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _write(item, out)
        out.append("]")
    else:
        out.append(_plain(value))


def dumps(value: Any) -> str:
    """Serialise ``value`` compactly; ``Decimal`` becomes a JSON number, exactly.

    Raises ``TypeError`` or ``ValueError`` for values JSON cannot carry (sets, objects,
    NaN, infinities).
    """
    if not _has_decimal(value):
        return _plain(value)
    out: list[str] = []
    _write(value, out)
    return "".join(out)


def loads(data: str | bytes) -> Any:
    """Parse JSON, reading fractional numbers as ``Decimal``."""
    return json.loads(data, parse_float=Decimal)
