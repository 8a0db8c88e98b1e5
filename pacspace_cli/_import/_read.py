"""Reading a backfill file as files really are: one record at a time, in bounded memory.

A line is read as bytes, at most ``max_line_bytes`` of it (the rest of a longer line is
skipped, never held), then decoded: bytes that are not UTF-8 make that line bad, named by
line and column, and the file goes on. A leading BOM is skipped. A CSV header that
repeats a column, names one the import does not know or misses a required one stops the
import before anything is read further; so does a file of another kind.
"""

from __future__ import annotations

import codecs
import csv
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO

from pacspace_async import ValidationError
from pacspace_async.resources import emit_body

__all__ = ["COLUMNS", "MAX_LINE_BYTES", "BadFile", "Line", "file_kind", "item_of", "read_lines"]

COLUMNS = ("customerId", "delta", "reason", "referenceId")
REQUIRED = ("customerId", "delta", "reason")
MAX_LINE_BYTES = 1 << 20
_SKIP_CHUNK = 1 << 16


class BadFile(Exception):
    """The file as a whole cannot be imported (its kind, its header): nothing is sent."""


@dataclass(frozen=True)
class Line:
    """One record of the file: its fields, or why it cannot be read."""

    number: int
    """The physical line the record starts on (1 is a CSV file's header)."""
    fields: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None
    """Why the line cannot be read (then ``fields`` is empty)."""


def file_kind(path: Path) -> str:
    """``csv`` or ``jsonl``, by the file's suffix."""
    kind = path.suffix.lower()
    if kind == ".csv":
        return "csv"
    if kind in (".jsonl", ".ndjson"):
        return "jsonl"
    raise BadFile(f"{path}: expected a .csv or .jsonl file")


def read_lines(
    handle: BinaryIO, kind: str, name: str, max_line_bytes: int = MAX_LINE_BYTES
) -> Iterator[Line]:
    """The records of a file opened in binary (named ``name`` in messages), in order,
    blank lines left out. ``Line.problem`` names a record that cannot be read;
    ``BadFile`` stops a file that cannot be imported at all."""
    raw = _physical(handle, max_line_bytes)
    if kind == "csv":
        return _csv_records(name, raw, max_line_bytes)
    return _jsonl_records(raw)


def _physical(handle: BinaryIO, limit: int) -> Iterator[tuple[int, str, str | None]]:
    """``(number, text, problem)`` for each physical line, never more than ``limit``
    bytes of it in memory."""
    number = 0
    while True:
        raw = handle.readline(limit + 1)
        if not raw:
            return
        number += 1
        if number == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8) :]
        if len(raw) > limit and not raw.endswith(b"\n"):
            while (more := handle.readline(_SKIP_CHUNK)) and not more.endswith(b"\n"):
                pass
            yield number, "\n", f"is longer than {limit:,} bytes (--max-line-bytes)"
            continue
        try:
            yield number, raw.decode("utf-8"), None
        except UnicodeDecodeError as exc:
            column = len(raw[: exc.start].decode("utf-8", "replace")) + 1
            problem = f"has a byte that is not UTF-8 (0x{raw[exc.start]:02x}) at column {column}"
            yield number, raw.decode("utf-8", "replace"), problem


def _csv_records(
    path: str, physical: Iterator[tuple[int, str, str | None]], limit: int
) -> Iterator[Line]:
    problems: list[str] = []

    def texts() -> Iterator[str]:
        for _, text, problem in physical:
            if problem is not None:
                problems.append(problem)
            yield text

    csv.field_size_limit(max(limit, csv.field_size_limit()))
    reader = csv.reader(texts())
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise BadFile(f"{path}: the header cannot be read as CSV ({exc})") from None
    if header is None:
        return
    if problems:
        raise BadFile(f"{path}: the header {problems[0]}")
    _check_header(path, header)
    end = reader.line_num
    while True:
        start = end + 1
        problems.clear()
        try:
            row = next(reader, None)
        except csv.Error as exc:
            end = reader.line_num
            yield Line(start, problem=f"the line cannot be read as CSV ({exc})")
            continue
        end = reader.line_num
        if row is None:
            return
        if problems:
            yield Line(start, problem=f"the line {problems[0]}")
        elif not any(row):
            continue
        elif len(row) != len(header):
            bad = f"the line has {len(row)} values for {len(header)} columns"
            yield Line(start, problem=bad)
        else:
            values = zip(header, row, strict=True)
            yield Line(start, {name: value for name, value in values if value})


def _check_header(path: str, header: list[str]) -> None:
    repeated = [name for name, count in Counter(header).items() if count > 1]
    if repeated:
        where = [str(i) for i, name in enumerate(header, start=1) if name == repeated[0]]
        raise BadFile(
            f"{path}: the column {repeated[0]!r} appears {len(where)} times "
            f"(columns {', '.join(where)}); keep one"
        )
    unknown = [c for c in header if c not in COLUMNS and not c.startswith("metadata.")]
    if unknown:
        raise BadFile(f"{path}: unknown column {unknown[0]!r} (expected {sorted(COLUMNS)})")
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise BadFile(f"{path}: no {missing[0]!r} column (columns: {', '.join(header)})")


class _Repeated(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for key, value in pairs:
        if key in fields:
            raise _Repeated(key)
        fields[key] = value
    return fields


_DECODER = json.JSONDecoder(parse_float=Decimal, object_pairs_hook=_unique)


def _jsonl_records(physical: Iterator[tuple[int, str, str | None]]) -> Iterator[Line]:
    for number, raw, problem in physical:
        text = raw.strip()
        if problem is not None:
            yield Line(number, problem=f"the line {problem}")
            continue
        if not text:
            continue
        try:
            fields = _DECODER.decode(text)
        except _Repeated as exc:
            yield Line(number, problem=f"the line has the key {exc.key!r} twice")
            continue
        except ValueError:
            fields = None
        if not isinstance(fields, dict):
            yield Line(number, problem="the line is not a JSON object")
        else:
            yield Line(number, fields)


def item_of(line: Line) -> dict[str, Any]:
    """The line as an emit body, checked with the SDK's own rules (a ``ValidationError``
    names the field); its ``referenceId`` only when the line gives one."""
    if line.problem is not None:
        raise ValidationError(line.problem, field="line")
    fields = line.fields
    metadata: dict[str, Any] = {}
    given = fields.get("metadata")
    if given is not None:
        if not isinstance(given, dict):
            raise ValidationError("metadata must be a JSON object", field="metadata")
        metadata.update(given)
    for name, value in fields.items():
        if name.startswith("metadata."):
            metadata[name[len("metadata.") :]] = value
        elif name not in COLUMNS and name != "metadata":
            raise ValidationError(f"unknown field {name!r}", field=name)
    for required in REQUIRED:
        if fields.get(required) is None:
            raise ValidationError(f"{required} is missing", field=required)
    return emit_body(
        fields["customerId"],
        fields["delta"],
        fields["reason"],
        {"reference_id": fields.get("referenceId"), "metadata": metadata or None},
    )
