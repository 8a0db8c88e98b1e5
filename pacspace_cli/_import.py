"""``pacspace import FILE``: backfill usage from a CSV or JSON Lines file, resumably.

Every line is one delta: ``customerId``, ``delta``, ``reason``, optional ``referenceId``,
and ``metadata.*`` columns (JSON Lines may also carry a ``metadata`` object). A line
without a ``referenceId`` gets one derived from the import's id (the file's name, or
``--import-id``), its line number and its content, so running the same file again (or the
same file with lines fixed in place, or appended to) records no line twice.

Lines stream through ``emit_stream`` (at most ``2 × --concurrency`` in memory, whatever the
file's size). Progress is saved next to the file (``FILE.pacspace-import.json``) every
second and on Ctrl-C; the next run skips what is done (unless the file's start changed)
and tries the failed lines again.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import hashlib
import json
import os
import signal
import time
from collections import Counter, defaultdict, deque
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pacspace_async import EmitOutcome, PacSpace, PacSpaceError, ValidationError
from pacspace_async._json import loads as json_loads
from pacspace_async.resources._delta import emit_body
from pacspace_async.resources._many import stream
from pacspace_async.types import EmitResult

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["add_arguments", "run"]

_COLUMNS = {"customerId", "delta", "reason", "referenceId"}
_INVALID = "\0invalid"  # the reason a line cannot be read, under a key no column has
_SAVE_EVERY = 1.0
_MAX_FAILED_KEPT = 10_000
_SHOWN_BAD_LINES = 50


def add_arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument("file", type=Path, help="a .csv or .jsonl file")
    command.add_argument("--api-key", help="default: PACSPACE_API_KEY")
    command.add_argument("--base-url", help="default: PACSPACE_API_BASE_URL, else by key")
    command.add_argument("--dry-run", action="store_true", help="validate every line, send none")
    command.add_argument("--wait", action="store_true", help="wait for each delta's verification")
    command.add_argument("--concurrency", type=int, default=16, metavar="N")
    command.add_argument(
        "--import-id", help="what derived referenceIds hang on (default: the file's name)"
    )


# -- reading -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    number: int
    text: str
    """The line as read (CSV: its values as JSON), for its derived referenceId."""
    fields: dict[str, Any]


class BadFile(Exception):
    """The file as a whole cannot be imported (format, header)."""


def read_lines(path: Path) -> Iterator[Line]:
    """The file's data lines, one at a time (never the whole file in memory)."""
    if path.suffix.lower() == ".csv":
        yield from _csv_lines(path)
    elif path.suffix.lower() in (".jsonl", ".ndjson"):
        yield from _jsonl_lines(path)
    else:
        raise BadFile(f"{path}: expected a .csv or .jsonl file")


def _csv_lines(path: Path) -> Iterator[Line]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            return
        unknown = [c for c in header if c not in _COLUMNS and not c.startswith("metadata.")]
        if unknown:
            raise BadFile(f"{path}: unknown column {unknown[0]!r} (expected {sorted(_COLUMNS)})")
        number = 1
        for row in reader:
            number = reader.line_num
            if not any(row):
                continue
            if len(row) != len(header):
                bad = f"has {len(row)} values for {len(header)} columns"
                yield Line(number, json.dumps(row, ensure_ascii=False), {_INVALID: bad})
                continue
            fields = {name: value for name, value in zip(header, row, strict=True) if value}
            yield Line(number, json.dumps(row, ensure_ascii=False), fields)


def _jsonl_lines(path: Path) -> Iterator[Line]:
    with path.open(encoding="utf-8") as handle:
        for number, raw in enumerate(handle, start=1):
            text = raw.strip()
            if not text:
                continue
            try:
                fields = json_loads(text)
            except ValueError:
                fields = None
            if not isinstance(fields, dict):
                fields = {_INVALID: "is not a JSON object"}
            yield Line(number, text, fields)


def item_of(line: Line, import_id: str) -> dict[str, Any]:
    """The line as an emit item: checked with the SDK's own rules (a ValidationError
    names the field), with its referenceId derived when the line has none."""
    fields = line.fields
    if _INVALID in fields:
        raise ValidationError(f"the line {fields[_INVALID]}", field="line")
    metadata: dict[str, Any] = dict(fields.get("metadata") or {})
    for name, value in fields.items():
        if name.startswith("metadata."):
            metadata[name[len("metadata.") :]] = value
        elif name not in _COLUMNS and name != "metadata":
            raise ValidationError(f"unknown field {name!r}", field=name)
    reference = fields.get("referenceId") or derived_reference(import_id, line)
    item = {
        "customerId": fields.get("customerId"),
        "delta": fields.get("delta"),
        "reason": fields.get("reason"),
        "referenceId": reference,
    }
    if metadata:
        item["metadata"] = metadata
    for required in ("customerId", "delta", "reason"):
        if item[required] is None:
            raise ValidationError(f"{required} is missing", field=required)
    emit_body(
        item["customerId"],
        item["delta"],
        item["reason"],
        {"reference_id": reference, "metadata": item.get("metadata")},
    )
    return item


def derived_reference(import_id: str, line: Line) -> str:
    digest = hashlib.sha256(f"{import_id}\0{line.number}\0{line.text}".encode()).hexdigest()
    return f"imp_{digest[:32]}"


# -- progress kept between runs --------------------------------------------------------------


@dataclass
class State:
    """What an earlier run finished: the first ``lines`` lines (by count), whose bytes hash
    to ``prefix``, minus the ``failed`` line numbers."""

    import_id: str
    lines: int = 0
    prefix: str = ""
    failed: list[int] = field(default_factory=list)

    @classmethod
    def load(cls, path: Path, import_id: str) -> State:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return cls(import_id)
        if not isinstance(data, dict) or data.get("importId") != import_id:
            return cls(import_id)
        failed = data.get("failed")
        return cls(
            import_id,
            int(data.get("lines", 0)),
            str(data.get("prefix", "")),
            list(failed) if isinstance(failed, list) else [],
        )

    def save(self, path: Path) -> None:
        data = {
            "importId": self.import_id,
            "lines": self.lines,
            "prefix": self.prefix,
            "failed": self.failed[:_MAX_FAILED_KEPT],
        }
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(data))
        os.replace(temporary, path)


# -- running ---------------------------------------------------------------------------------


@dataclass
class Tally:
    recorded: int = 0
    replayed: int = 0
    failed: int = 0
    skipped: int = 0
    verified: int = 0
    by_reason: defaultdict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))


def run(args: argparse.Namespace) -> int:
    from rich.console import Console  # rich draws the progress: imported when importing

    # Messages are never wrapped (a long path must stay greppable) nor read as markup.
    console = Console(stderr=True, soft_wrap=True, markup=False, highlight=False)
    path: Path = args.file
    if not path.is_file():
        console.print(f"pacspace import: no such file: {path}")
        return 2
    if args.concurrency < 1:
        console.print("pacspace import: --concurrency must be at least 1")
        return 2
    import_id = args.import_id or path.name
    try:
        if args.dry_run:
            return _dry_run(path, import_id, console)
        return asyncio.run(_import(args, path, import_id, console))
    except BadFile as exc:
        console.print(f"pacspace import: {exc}")
        return 2
    except KeyboardInterrupt:
        console.print("pacspace import: stopped; run the same command again to continue")
        return 130
    except asyncio.CancelledError:  # SIGTERM
        console.print("pacspace import: stopped; run the same command again to continue")
        return 143


def _dry_run(path: Path, import_id: str, console: Console) -> int:
    good = bad = 0
    for line in read_lines(path):
        try:
            item_of(line, import_id)
        except ValidationError as exc:
            bad += 1
            if bad <= _SHOWN_BAD_LINES:
                print(f"line {line.number}: {exc.field}: {exc}")
        else:
            good += 1
    if bad > _SHOWN_BAD_LINES:
        print(f"... and {bad - _SHOWN_BAD_LINES} more bad lines")
    console.print(f"{good} lines would be sent, {bad} are bad")
    return 1 if bad else 0


@dataclass
class _Slot:
    """A line between being read and being done: done lines leave in file order."""

    line: int
    text: str
    done: bool = False


class _Progress:
    """Which lines are done, in file order: the state saved for the next run."""

    def __init__(self, import_id: str) -> None:
        self.state = State(import_id)
        self._order: deque[_Slot] = deque()
        self._hash = hashlib.sha256()
        self._failed_overflow = False

    def read(self, line: Line, done: bool = False) -> _Slot:
        slot = _Slot(line.number, line.text, done)
        self._order.append(slot)
        self._advance()
        return slot

    def finish(self, slot: _Slot, failed: bool) -> None:
        slot.done = True
        if failed:
            if len(self.state.failed) < _MAX_FAILED_KEPT:
                self.state.failed.append(slot.line)
            else:
                self._failed_overflow = True
        self._advance()

    def _advance(self) -> None:
        while self._order and self._order[0].done:
            slot = self._order.popleft()
            self._hash.update(slot.text.encode() + b"\n")
            self.state.lines = slot.line

    def save(self, path: Path) -> None:
        if self._failed_overflow:
            return  # too many failures to list: the next run starts from the top
        self.state.prefix = self._hash.hexdigest()
        self.state.save(path)


def _scan(path: Path, earlier: State) -> tuple[int, bool]:
    """How many lines the file has, and whether an earlier run's finished lines are
    unchanged (then they are skipped)."""
    total = 0
    prefix = hashlib.sha256()
    for line in read_lines(path):
        total += 1
        if line.number <= earlier.lines:
            prefix.update(line.text.encode() + b"\n")
    return total, bool(earlier.lines) and prefix.hexdigest() == earlier.prefix


async def _import(args: argparse.Namespace, path: Path, import_id: str, console: Console) -> int:
    state_path = path.with_name(path.name + ".pacspace-import.json")
    earlier = State.load(state_path, import_id)
    total, resume = _scan(path, earlier)
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeRemainingColumn,
    )

    retry = set(earlier.failed)
    tally = Tally()
    kept = _Progress(import_id)
    in_flight: dict[int, tuple[_Slot, str]] = {}
    errors: list[str] = []
    progress = Progress(
        TextColumn("[bold]import"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
        console=console,
    )
    task = progress.add_task("import", total=total, rate="")
    started = time.monotonic()

    def failed(line: int, reason: str, exc: PacSpaceError) -> None:
        tally.failed += 1
        tally.by_reason[reason]["failed"] += 1
        if len(errors) < _SHOWN_BAD_LINES:
            where = f"{exc.field}: " if isinstance(exc, ValidationError) and exc.field else ""
            errors.append(f"line {line}: {where}{exc}")

    async def items() -> AsyncIterator[dict[str, Any]]:
        index = 0
        for line in read_lines(path):
            if resume and line.number <= earlier.lines and line.number not in retry:
                kept.read(line, done=True)
                tally.skipped += 1
                progress.advance(task)
                continue
            slot = kept.read(line)
            reason = str(line.fields.get("reason", "?"))
            try:
                item = item_of(line, import_id)
            except ValidationError as exc:
                failed(line.number, reason, exc)
                kept.finish(slot, failed=True)
                progress.advance(task)
                continue
            in_flight[index] = (slot, reason)
            index += 1
            yield item

    def done(index: int, outcome: EmitOutcome) -> None:
        slot, reason = in_flight.pop(index)
        if isinstance(outcome, PacSpaceError):
            failed(slot.line, reason, outcome)
        else:
            kind = "replayed" if outcome.idempotent else "recorded"
            setattr(tally, kind, getattr(tally, kind) + 1)
            tally.by_reason[reason][kind] += 1
            tally.verified += outcome.status == "VERIFIED"
        kept.finish(slot, failed=isinstance(outcome, PacSpaceError))
        sent = tally.recorded + tally.replayed + tally.failed
        progress.update(
            task, advance=1, rate=f"{sent / max(time.monotonic() - started, 1e-9):,.0f}/s"
        )

    pac = PacSpace(args.api_key or os.environ.get("PACSPACE_API_KEY"), base_url=args.base_url)

    async def emit(customer_id: Any, delta: Any, reason: Any, **kwargs: Any) -> EmitResult:
        result = await pac.balance.emit(customer_id, delta, reason, **kwargs)
        if args.wait and not result.is_terminal:
            final = await pac.balance.wait_for_verified(result.record_id)
            result = result.model_copy(update={"status": final.status})
        return result

    interrupted = True
    last_save = time.monotonic()
    main = asyncio.current_task()
    if main is not None:  # SIGTERM stops as Ctrl-C does: progress saved, summary shown
        with contextlib.suppress(NotImplementedError, RuntimeError):
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main.cancel)
    try:
        with progress:
            async for _ in stream(
                emit, items(), concurrency=args.concurrency, return_exceptions=True, progress=done
            ):
                if time.monotonic() - last_save >= _SAVE_EVERY:
                    kept.save(state_path)
                    last_save = time.monotonic()
        interrupted = False
    finally:
        kept.save(state_path)
        await pac.aclose()
        _summary(console, tally, errors, interrupted, args.wait)
    return 1 if tally.failed else 0


def _summary(
    console: Console, tally: Tally, errors: list[str], interrupted: bool, waited: bool
) -> None:
    from rich.table import Table

    for error in errors:
        console.print(error, markup=False)
    table = Table(title="pacspace import" + (" (stopped)" if interrupted else ""))
    table.add_column("reason")
    for column in ("recorded", "replayed", "failed"):
        table.add_column(column, justify="right")
    for reason in sorted(tally.by_reason):
        counts = tally.by_reason[reason]
        table.add_row(reason, *(f"{counts[c]:,}" for c in ("recorded", "replayed", "failed")))
    table.add_row(
        "[bold]all",
        f"[bold]{tally.recorded:,}",
        f"[bold]{tally.replayed:,}",
        f"[bold]{tally.failed:,}",
    )
    console.print(table)
    extra = [f"{tally.skipped:,} lines were done by an earlier run"] if tally.skipped else []
    if waited:
        extra.append(f"{tally.verified:,} verified")
    if extra:
        console.print("; ".join(extra))
