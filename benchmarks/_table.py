"""One row per benchmark, printed as a table and saved as JSON beside a chart of the ratios."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ["RESULTS", "Row", "print_table", "save"]

RESULTS = Path(__file__).with_name("results")
"""Where each run writes ``latest.json`` and ``latest.png`` (the README shows the chart)."""


@dataclass
class Row:
    """Ours, the peer measured in the same run, and ours relative to it (higher is
    better unless ``aim`` says otherwise)."""

    name: str
    ours: str
    peer: str
    ratio: float
    aim: str


def print_table(rows: list[Row]) -> None:
    widths = [max(len(getattr(r, f)) for r in rows) for f in ("name", "ours", "peer")]
    header = (
        f"{'benchmark':<{widths[0]}}  {'ours':<{widths[1]}}  {'peer':<{widths[2]}}  "
        f"{'ratio':>7}  aim"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        ratio = "   n/a " if not math.isfinite(r.ratio) else f"{r.ratio:>6.2f}x"
        print(
            f"{r.name:<{widths[0]}}  {r.ours:<{widths[1]}}  {r.peer:<{widths[2]}}  {ratio}  {r.aim}"
        )


def save(rows: list[Row], machine: str, directory: Path = RESULTS) -> tuple[Path, Path]:
    """``latest.json`` (every row, and the machine) and ``latest.png`` (the ratios)."""
    directory.mkdir(parents=True, exist_ok=True)
    data = {
        "machine": machine,
        "rows": [{**asdict(r), "ratio": r.ratio if math.isfinite(r.ratio) else None} for r in rows],
    }
    table = directory / "latest.json"
    table.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    chart = directory / "latest.png"
    _chart([r for r in rows if math.isfinite(r.ratio)], machine, chart)
    return table, chart


def _chart(rows: list[Row], machine: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no screen: files only
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=(10, 0.45 * len(rows) + 1.2))
    names = [r.name for r in reversed(rows)]
    ratios = [r.ratio for r in reversed(rows)]
    # One colour: whether a ratio is good depends on its row (some peers are floors).
    axes.barh(names, ratios, color="#4a78a8")
    axes.axvline(1.0, color="#333333", linewidth=1)
    axes.set_xscale("log")
    axes.set_xlabel("ours relative to the peer measured in the same run (log scale; 1 = equal)")
    for y, ratio in enumerate(ratios):
        axes.text(ratio, y, f" {ratio:.2f}x", va="center", fontsize=8)
    axes.set_title(machine, fontsize=9)
    axes.tick_params(axis="y", labelsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    pyplot.close(figure)
