"""Running an import: check the path, read and compare the file, refuse or send.

Sending streams through ``emit_stream``'s machinery (at most ``2 × --concurrency`` lines in
memory). With ``--reconcile`` the reversals go first, as a phase of their own: new lines
are sent only once every stale line is reversed, so a failed reversal never leaves the
old line and its replacement both in the ledger.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sqlite3
import stat
import time
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import simplejson

from pacspace_async import EmitOutcome, PacSpace, PacSpaceError, ValidationError
from pacspace_async.resources import stream
from pacspace_async.types import EmitResult

from . import _identity
from ._display import Screen, Tally, summary
from ._identity import content_key
from ._progress import Planned, Progress, ProgressError, Stale, fail
from ._read import BadFile, file_kind, item_of, read_lines

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["run"]

_SAVE_EVERY = 1.0
_SHOWN = 50
_BATCH = 4096


class Refused(Exception):
    """The run stops before sending anything; the message names what to fix."""


def store_path(path: Path) -> Path:
    return path.with_name(path.name + ".pacspace-import.sqlite3")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console  # rich draws the progress: imported when importing

    # Messages are never wrapped (a long path must stay greppable) nor read as markup.
    console = Console(stderr=True, soft_wrap=True, markup=False, highlight=False)
    path: Path = args.file
    try:
        _check_path(path)
        if args.concurrency < 1:
            raise Refused("--concurrency must be at least 1")
        if args.max_line_bytes < 1:
            raise Refused("--max-line-bytes must be at least 1")
        kind = file_kind(path)
        return _run(args, path, kind, console)
    except (BadFile, ProgressError, Refused) as exc:
        console.print(f"pacspace import: {exc}")
        return 2
    except sqlite3.Error as exc:  # the store went bad under the run (edited, disk full)
        console.print(f"pacspace import: {fail(store_path(path), exc)}")
        return 2
    except KeyboardInterrupt:
        console.print("pacspace import: stopped; run the same command again to continue")
        return 130
    except asyncio.CancelledError:  # SIGTERM
        console.print("pacspace import: stopped; run the same command again to continue")
        return 143


def _check_path(path: Path) -> None:
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise Refused(f"no such file: {path}") from None
    except OSError as exc:
        raise Refused(f"{path} cannot be read ({exc.strerror})") from None
    if stat.S_ISDIR(mode):
        raise Refused(f"{path} is a directory; give the file to import")
    if not stat.S_ISREG(mode):
        raise Refused(
            f"{path} is not a regular file (a FIFO, a device or a socket): an import reads "
            "its file twice, to check every line before it sends one; save the data to a "
            "file and import that"
        )


def _open_store(args: argparse.Namespace, path: Path, base_url: str | None) -> Progress:
    where = store_path(path)
    legacy = path.with_name(path.name + ".pacspace-import.json")
    if args.restart and not args.dry_run:
        for leftover in (where, Path(f"{where}-wal"), Path(f"{where}-shm"), legacy):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
    elif legacy.exists():
        raise Refused(
            f"{legacy} holds the progress of an earlier version of pacspace import, whose "
            "line ids hung on line numbers; this version names lines by their content and "
            "would record the lines that import sent a second time. Finish that import "
            "with the version that started it; or run with --restart to start over, "
            "knowing that what it recorded is recorded again"
        )
    import_id = args.import_id or path.name
    if args.dry_run and args.restart:
        return Progress(None, import_id, base_url, read_only=True)
    return Progress(where, import_id, base_url, read_only=args.dry_run)


def _run(args: argparse.Namespace, path: Path, kind: str, console: Console) -> int:
    pac: PacSpace | None = None
    try:
        pac = PacSpace(args.api_key or os.environ.get("PACSPACE_API_KEY"), base_url=args.base_url)
    except PacSpaceError:
        if not args.dry_run:
            raise
    store = _open_store(args, path, pac.base_url if pac is not None else None)
    tally = Tally()
    errors: list[str] = []
    try:
        with Screen(console) as screen:
            _scan(path, kind, args.max_line_bytes, store, screen, tally, errors)
        store.name_lines()
        to_send, stale = store.plan()
        tally.skipped = store.count_done()
        refusal = _refusal(store, stale, args.reconcile)
        if args.dry_run:
            return _dry_run(console, store, tally, to_send, stale, refusal, args.reconcile)
        if refusal:
            for error in errors:
                console.print(error)
            raise Refused(refusal)
        store.renumber()
        assert pac is not None
        return asyncio.run(_send(args, pac, store, console, tally, errors, to_send, stale))
    finally:
        store.close()


def _scan(
    path: Path,
    kind: str,
    max_line_bytes: int,
    store: Progress,
    screen: Screen,
    tally: Tally,
    errors: list[str],
) -> None:
    """Read the whole file into the store's scan table, checking every line."""
    good: list[tuple[Any, ...]] = []
    bad: list[tuple[int, str, str]] = []
    count = 0
    with path.open("rb") as handle:
        screen.reading(os.fstat(handle.fileno()).st_size)
        for line in read_lines(handle, kind, str(path), max_line_bytes):
            count += 1
            try:
                body = item_of(line)
            except ValidationError as exc:
                where = exc.field or "line"
                bad.append((line.number, where, str(exc)))
                tally.add(str(line.fields.get("reason") or "?"), "failed")
                if len(errors) < _SHOWN:
                    errors.append(f"line {line.number}: {where}: {exc}")
            else:
                customer, amount, reason = body["customerId"], body["delta"], body["reason"]
                metadata = body.get("metadata")
                meta = (
                    None
                    if metadata is None
                    else simplejson.dumps(
                        _sorted(metadata), use_decimal=True, separators=(",", ":"), allow_nan=False
                    )
                )
                key = content_key(customer, amount, reason, meta)
                good.append(
                    (line.number, key, body.get("referenceId"), customer, str(amount), reason, meta)
                )
            if count % _BATCH == 0:
                store.add_lines(good)
                store.add_bad(bad)
                good.clear()
                bad.clear()
                screen.read(handle.tell(), count)
        store.add_lines(good)
        store.add_bad(bad)
        screen.read(handle.tell(), count)


def _sorted(value: Any) -> Any:
    """``value`` with every object's keys in order: one JSON text for one content."""
    if isinstance(value, dict):
        return {key: _sorted(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted(item) for item in value]
    return value


def _describe(customer: Any, amount: Any, reason: Any) -> str:
    return f"{customer}, {amount}, {reason}"


def _refusal(store: Progress, stale: int, reconcile: bool) -> str | None:
    """Why the run must stop before sending anything, naming the lines; or None."""
    parts: list[str] = []
    for reference, lines in store.repeated_references(_SHOWN):
        parts.append(
            f"the referenceId {reference!r} is on lines {lines}: a referenceId names one "
            "delta, give each line its own"
        )
    for line, reference, how in store.changed_references(_SHOWN):
        if how == "changed":
            parts.append(
                f"line {line}: the referenceId {reference!r} was recorded by an earlier run "
                "with other content; the service keeps what it recorded under an id, so "
                "the corrected line needs a new referenceId (or put the line back as it was)"
            )
        else:
            parts.append(
                f"line {line}: the referenceId {reference!r} was reversed by an earlier run "
                "(--reconcile); the line needs a new referenceId to be recorded again"
            )
    if stale and not reconcile:
        shown = [
            f"  line {s.line} (then): {_describe(s.customer, s.amount, s.reason)}"
            for s in store.stale(_SHOWN)
        ]
        more = [f"  ... and {stale - _SHOWN:,} more"] if stale > _SHOWN else []
        new = [
            f"  line {p.line}: {_describe(p.customer, p.amount, p.reason)}"
            for p in store.planned(_SHOWN)
        ]
        parts.append(
            "\n".join(
                [
                    f"{stale:,} lines recorded by an earlier run are no longer in the file "
                    "(deleted, or changed in place):",
                    *shown,
                    *more,
                    *(["lines of the file not recorded yet:", *new] if new else []),
                    "Run again with --reconcile to reverse each of them (a delta that "
                    "adjusts it) and then record the new lines, so the ledger holds what the "
                    "file says; or put the lines back as they were.",
                ]
            )
        )
    if not parts:
        return None
    return "nothing was sent:\n" + "\n".join(parts)


def _dry_run(
    console: Console,
    store: Progress,
    tally: Tally,
    to_send: int,
    stale: int,
    refusal: str | None,
    reconcile: bool,
) -> int:
    for line, field, problem in store.bad_lines(_SHOWN):
        print(f"line {line}: {field}: {problem}")
    bad = tally.failed
    if bad > _SHOWN:
        print(f"... and {bad - _SHOWN} more bad lines")
    if refusal:
        console.print(refusal)
    said = [f"{to_send} lines would be sent, {bad} are bad"]
    if tally.skipped:
        said.append(f"{tally.skipped:,} were recorded by an earlier run")
    if stale and reconcile:
        said.append(f"{stale:,} would be reversed first")
    console.print("; ".join(said))
    return 1 if bad or refusal else 0


async def _send(
    args: argparse.Namespace,
    pac: PacSpace,
    store: Progress,
    console: Console,
    tally: Tally,
    errors: list[str],
    to_send: int,
    stale: int,
) -> int:
    main = asyncio.current_task()
    if main is not None:  # SIGTERM stops as Ctrl-C does: progress saved, summary shown
        with contextlib.suppress(NotImplementedError, RuntimeError):
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main.cancel)

    async def emit(customer_id: Any, delta: Any, reason: Any, **kwargs: Any) -> EmitResult:
        result = await pac.balance.emit(customer_id, delta, reason, **kwargs)
        if args.wait and not result.is_terminal:
            final = await pac.balance.wait_for_verified(result.record_id)
            result = result.model_copy(update={"status": final.status})
        return result

    interrupted = True
    failed_before = tally.failed
    try:
        with Screen(console) as screen:
            screen.sending(to_send + (stale if args.reconcile else 0))
            sent = _Sender(store, screen, tally, errors)
            if args.reconcile and stale:
                await sent.phase(emit, sent.reversals(), args.concurrency)
                if tally.failed > failed_before:
                    errors.append(
                        "not every line no longer in the file could be reversed, so no new "
                        "line was sent: run the same command again"
                    )
                    interrupted = False
                    return 1
            await sent.phase(emit, sent.lines(), args.concurrency)
        interrupted = False
    finally:
        store.save()
        await pac.aclose()
        for error in errors:
            console.print(error)
        summary(console, tally, interrupted, args.wait)
    return 1 if tally.failed else 0


class _Sender:
    """Feeds lines (or reversals) to the stream and books each outcome in the store."""

    def __init__(self, store: Progress, screen: Screen, tally: Tally, errors: list[str]) -> None:
        self._store = store
        self._screen = screen
        self._tally = tally
        self._errors = errors
        self._context: dict[int, Callable[[EmitOutcome], None]] = {}
        self._index = 0
        self._done = 0
        self._saved = time.monotonic()

    async def phase(
        self, emit: Callable[..., Any], items: AsyncIterator[dict[str, Any]], concurrency: int
    ) -> None:
        self._index = 0
        self._context = {}
        async for _ in stream(
            emit, items, concurrency=concurrency, return_exceptions=True, progress=self._finish
        ):
            if time.monotonic() - self._saved >= _SAVE_EVERY:
                self._store.save()
                self._saved = time.monotonic()

    def _finish(self, index: int, outcome: EmitOutcome) -> None:
        self._context.pop(index)(outcome)
        self._done += 1
        self._screen.sent(self._done)

    def _next(self, book: Callable[[EmitOutcome], None]) -> None:
        self._context[self._index] = book
        self._index += 1

    def _failed(self, where: str, reason: str, exc: PacSpaceError) -> None:
        self._tally.add(reason, "failed")
        if len(self._errors) < 2 * _SHOWN:
            field = f"{exc.field}: " if isinstance(exc, ValidationError) and exc.field else ""
            self._errors.append(f"{where}: {field}{exc}")

    async def reversals(self) -> AsyncIterator[dict[str, Any]]:
        for stale in self._store.stale():
            reference = _identity.reversal(stale.reference)
            self._next(self._reversal_booker(stale, reference))
            yield {
                "customerId": stale.customer,
                "delta": -Decimal(stale.amount),
                "reason": stale.reason,
                "referenceId": reference,
                "adjusts": {"referenceId": stale.reference},
            }

    def _reversal_booker(self, stale: Stale, reference: str) -> Callable[[EmitOutcome], None]:
        def book(outcome: EmitOutcome) -> None:
            if isinstance(outcome, PacSpaceError):
                self._failed(f"reversing line {stale.line} (then)", stale.reason, outcome)
            else:
                self._tally.add(stale.reason, "reversed")
                self._store.reversed(stale, reference)

        return book

    async def lines(self) -> AsyncIterator[dict[str, Any]]:
        for planned in self._store.planned():
            self._next(self._line_booker(planned))
            yield planned.item()

    def _line_booker(self, planned: Planned) -> Callable[[EmitOutcome], None]:
        reason = planned.reason

        def book(outcome: EmitOutcome) -> None:
            if isinstance(outcome, PacSpaceError):
                self._failed(f"line {planned.line}", reason, outcome)
                return
            self._tally.add(reason, "replayed" if outcome.idempotent else "recorded")
            self._tally.verified += outcome.status == "VERIFIED"
            self._store.recorded(planned)

        return book
