"""What an import shows: progress while the file is read and while lines are sent, a
steady rate and time left, and the summary table at the end."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID

__all__ = ["COLUMNS", "Rate", "Screen", "Tally", "summary"]

COLUMNS = ("recorded", "replayed", "reversed", "failed")


@dataclass
class Tally:
    """Outcomes of a run, in all and by reason."""

    recorded: int = 0
    replayed: int = 0
    reversed: int = 0
    failed: int = 0
    skipped: int = 0
    verified: int = 0
    by_reason: defaultdict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))

    def add(self, reason: str, column: str) -> None:
        setattr(self, column, getattr(self, column) + 1)
        self.by_reason[reason][column] += 1


class Rate:
    """Lines a second, smoothed over about ``window`` seconds (an exponential moving
    average of one-second samples), so the time left holds still at a steady pace
    instead of following each burst of answers."""

    def __init__(self, window: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._window = window
        self._since = clock()
        self._done_then = 0
        self.per_second: float | None = None

    def update(self, done: int) -> None:
        now = self._clock()
        elapsed = now - self._since
        if elapsed < 1.0:
            return
        sample = (done - self._done_then) / elapsed
        if self.per_second is None:
            self.per_second = sample
        else:
            weight = min(1.0, elapsed / self._window)
            self.per_second += weight * (sample - self.per_second)
        self._since, self._done_then = now, done

    def left(self, remaining: int) -> str:
        if not self.per_second:
            return ""
        seconds = int(remaining / self.per_second)
        minutes, seconds = divmod(seconds, 60)
        hours, minutes = divmod(minutes, 60)
        return f"{hours}:{minutes:02}:{seconds:02} left"


class Screen:
    """The progress bars: reading the file (by bytes), then sending (by lines)."""

    def __init__(self, console: Console) -> None:
        from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

        self._progress: Progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[detail]}"),
            console=console,
        )
        self._reading: TaskID | None = None
        self._size = 0
        self._sending: TaskID | None = None
        self._total = 0
        self._rate = Rate()

    def __enter__(self) -> Screen:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def reading(self, size: int) -> None:
        self._size = size
        self._reading = self._progress.add_task("read", total=size or None, detail="")

    def read(self, position: int, lines: int) -> None:
        if self._reading is not None:
            detail = f"{lines:,} lines"
            self._progress.update(self._reading, completed=position, detail=detail)

    def sending(self, total: int) -> None:
        if self._reading is not None:
            self._progress.update(self._reading, completed=self._size)
        self._total = total
        self._sending = self._progress.add_task("send", total=total, detail="")

    def sent(self, done: int) -> None:
        if self._sending is None:
            return
        self._rate.update(done)
        rate = self._rate.per_second
        detail = f"{done:,}/{self._total:,}"
        if rate is not None:
            detail += f"  {rate:,.0f}/s  {self._rate.left(self._total - done)}"
        self._progress.update(self._sending, completed=done, detail=detail)


def summary(console: Console, tally: Tally, interrupted: bool, waited: bool) -> None:
    """The table of outcomes by reason, then what was skipped (and verified)."""
    from rich.table import Table

    table = Table(title="pacspace import" + (" (stopped)" if interrupted else ""))
    table.add_column("reason")
    for column in COLUMNS:
        table.add_column(column, justify="right")
    for reason in sorted(tally.by_reason):
        counts = tally.by_reason[reason]
        table.add_row(reason, *(f"{counts[c]:,}" for c in COLUMNS))
    table.add_row("all", *(f"{getattr(tally, c):,}" for c in COLUMNS), style="bold")
    console.print(table)
    extra = [f"{tally.skipped:,} lines were done by an earlier run"] if tally.skipped else []
    if waited:
        extra.append(f"{tally.verified:,} verified")
    if extra:
        console.print("; ".join(extra))
