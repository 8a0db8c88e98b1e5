"""One row of the benchmark table: ours, the peer measured in the same run, the ratio."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Row:
    name: str
    ours: str
    peer: str
    ratio: float
    aim: str
