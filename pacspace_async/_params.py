"""Each call's parameters, declared once: keyword, wire name, check.

A resource method declares its parameters in a :class:`Call`; the same declaration reads
the keyword form (``derive(c, period="2026-05")``) and the seed-style dict form of
pacspace-sdk and the product's documentation (``derive(c, {"period": "2026-05"})``),
refuses unknown names and conflicting duplicates, checks every value, and writes the
query or body in the wire's names. Errors name the wire's field (``startingBalance``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from . import _validate as check
from ._options import REQUEST_KEYS, merge
from ._scope import scope_fields

__all__ = [
    "END_DATE",
    "PERIOD",
    "STARTING_CHECKPOINT",
    "STARTING_CHECKPOINT_TYPE",
    "START_DATE",
    "TIME_PRESET",
    "TIME_SCOPE",
    "Call",
    "Param",
    "amount",
    "count",
    "index",
    "json_object",
    "text",
]

Check = Callable[[Any, str], Any]


@dataclass(frozen=True)
class Param:
    name: str
    """The keyword (snake_case)."""
    wire: str
    """The name in the query, the body and a seed-style options dict."""
    check: Check | None
    """``check(value, wire)`` returns what is sent, or raises a ValidationError; ``None``
    for a scope field, which the scope rules check together."""


def text(name: str, wire: str) -> Param:
    return Param(name, wire, check.text)


def amount(name: str, wire: str) -> Param:
    return Param(name, wire, check.amount)


def count(name: str, wire: str) -> Param:
    """An integer of at least 1 (``limit``, ``page``)."""
    return Param(name, wire, check.positive_int)


def index(name: str, wire: str) -> Param:
    """An integer of at least 0 (``offset``, sequence numbers)."""
    return Param(name, wire, check.non_negative_int)


def json_object(name: str, wire: str) -> Param:
    return Param(name, wire, check.json_object)


PERIOD = Param("period", "period", None)
TIME_PRESET = Param("time_preset", "timePreset", None)
START_DATE = Param("start_date", "startDate", None)
END_DATE = Param("end_date", "endDate", None)
STARTING_CHECKPOINT = Param("starting_checkpoint", "startingCheckpoint", None)
STARTING_CHECKPOINT_TYPE = Param("starting_checkpoint_type", "startingCheckpointType", None)
TIME_SCOPE = (PERIOD, TIME_PRESET, START_DATE, END_DATE)
"""A time scope, in the order the wire lists it."""


class Call:
    """The parameters one call takes beside the request settings, in the order the wire
    lists them (so our requests equal pacspace-sdk's, byte for byte)."""

    def __init__(self, *params: Param, extra: frozenset[str] = frozenset()) -> None:
        self.params = params
        self.scope = any(p.check is None for p in params)
        self.keywords = tuple(p.name for p in params) + tuple(sorted(extra))
        self.allowed = frozenset(self.keywords) | REQUEST_KEYS
        self.seed_names = {p.wire: p.name for p in params}

    def merge(
        self,
        options: Mapping[str, Any] | None,
        request: Mapping[str, Any],
        /,
        **given: Any,
    ) -> dict[str, Any]:
        """One snake_case dict from the options dict, the call's ``**request`` overrides
        and its own keyword arguments, each passed by name (``period=period``)."""
        if not given.keys() <= self.allowed:  # a method passing what it did not declare
            raise TypeError(f"undeclared parameter(s) {sorted(given.keys() - self.allowed)}")
        if options is None and not request:  # the common case, in one pass
            return {name: value for name, value in given.items() if value is not None}
        if request:
            given.update(request)
        return merge(options, self.allowed, given, self.seed_names)

    def wire(self, merged: Mapping[str, Any]) -> dict[str, Any]:
        """The declared values present in ``merged``, checked, by their wire names (then
        the scope's, when the call takes one)."""
        scope = scope_fields(dict(merged)) if self.scope else {}
        out: dict[str, Any] = {}
        for p in self.params:
            if p.check is None:
                if p.wire in scope:
                    out[p.wire] = scope[p.wire]
            elif merged.get(p.name) is not None:
                out[p.wire] = p.check(merged[p.name], p.wire)
        return out
