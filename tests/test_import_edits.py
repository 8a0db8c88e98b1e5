"""``pacspace import`` on files as users edit them: after any sequence of runs the ledger
holds exactly what the file says now, or the run refuses before sending anything and names
the lines. Never a silent double, never usage under the wrong customer, never a traceback."""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pacspace_cli import main
from pacspace_cli._import._display import Rate, Tally, summary
from pacspace_sandbox import Sandbox, SandboxServer

from ._memory import peak_rss_mb

FIVE = ["customerId,delta,reason", "c1,-1,api", "c2,-2,api", "c3,-3,api", "c4,-4,api", "c5,-5,api"]
Sums = dict[str, tuple[int, Decimal]]


@pytest.fixture
def env(
    monkeypatch: pytest.MonkeyPatch, pacspace_server: SandboxServer, pacspace_sandbox: Sandbox
) -> dict[str, str]:
    monkeypatch.setenv("PACSPACE_API_KEY", pacspace_sandbox.api_key)
    monkeypatch.setenv("PACSPACE_API_BASE_URL", pacspace_server.url)
    return {
        **os.environ,
        "PACSPACE_API_KEY": pacspace_sandbox.api_key,
        "PACSPACE_API_BASE_URL": pacspace_server.url,
    }


def file_sums(lines: list[str], prefix: str = "") -> Sums:
    """What the file says: per customer, how many deltas and their sum."""
    sums: dict[str, tuple[int, Decimal]] = {}
    for row in csv.DictReader(io.StringIO("\n".join(lines) + "\n")):
        if not row["customerId"] or not row["customerId"].startswith(prefix):
            continue
        count, total = sums.get(row["customerId"], (0, Decimal(0)))
        sums[row["customerId"]] = (count + 1, total + Decimal(row["delta"]))
    return sums


def ledger(sandbox: Sandbox, prefix: str = "") -> Sums:
    """What the service holds: per customer, the deltas neither reversing nor reversed, and
    the sum of every delta."""
    rows = sandbox.ledger.store.all(
        "SELECT customer_id, amount, reference_id, adjusts FROM deltas WHERE customer_id LIKE ?",
        (prefix + "%",),
    )
    reversed_ = {json.loads(adjusts)["referenceId"] for _, _, _, adjusts in rows if adjusts}
    sums: dict[str, tuple[int, Decimal]] = {}
    for customer, amount, reference, adjusts in rows:
        count, total = sums.get(customer, (0, Decimal(0)))
        counted = adjusts is None and reference not in reversed_
        sums[customer] = (count + counted, total + Decimal(str(amount)))
    return {c: (n, t) for c, (n, t) in sums.items() if n or t}


def requests(sandbox: Sandbox) -> int:
    """Emits the service answered with a record: new ones and replays."""
    count, replays = sandbox.ledger.store.all("SELECT COUNT(*), SUM(replays) FROM deltas")[0]
    return int(count) + int(replays or 0)


def write(path: Path, lines: list[str]) -> None:
    path.write_text("\n".join(lines) + "\n")


def reorder(lines: list[str]) -> list[str]:
    return [lines[0], *reversed(lines[1:])]


# name: (the edit, whether it leaves lines recorded before and no longer in the file)
EDITS: dict[str, tuple[Callable[[list[str]], list[str]], bool]] = {
    "blank line inserted after the header": (lambda f: [f[0], "", *f[1:]], False),
    "line inserted in the middle": (lambda f: [*f[:3], "c9,-9,api", *f[3:]], False),
    "line deleted": (lambda f: [f[0], *f[2:]], True),
    "amount fixed in place": (lambda f: [*f[:3], "c3,-30,api", *f[4:]], True),
    "customer fixed in place": (lambda f: [*f[:3], "c9,-3,api", *f[4:]], True),
    "line appended": (lambda f: [*f, "c6,-6,api"], False),
    "lines reordered": (reorder, False),
    "identical line repeated": (lambda f: [*f, f[1]], False),
    "amount written another way": (lambda f: [*f[:3], "c3,-3.000,api", *f[4:]], False),
    "every line deleted": (lambda f: f[:1], True),
}


@pytest.mark.parametrize("edit", list(EDITS))
def test_a_file_edited_and_imported_again_leaves_exactly_the_file(
    tmp_path: Path,
    env: dict[str, str],
    pacspace_sandbox: Sandbox,
    capsys: pytest.CaptureFixture[str],
    edit: str,
) -> None:
    usage = tmp_path / "usage.csv"
    write(usage, FIVE)
    assert main(["import", str(usage)]) == 0
    assert ledger(pacspace_sandbox) == file_sums(FIVE)
    change, leaves_stale = EDITS[edit]
    edited = change(FIVE)
    write(usage, edited)
    capsys.readouterr()

    if leaves_stale:  # by default: refused before anything is sent, the lines named
        before = requests(pacspace_sandbox)
        assert main(["import", str(usage)]) == 2
        err = capsys.readouterr().err
        assert "nothing was sent" in err and "--reconcile" in err
        assert "(then): c" in err  # the line as recorded, with its line number then
        assert requests(pacspace_sandbox) == before
        assert ledger(pacspace_sandbox) == file_sums(FIVE)
        assert main(["import", str(usage), "--reconcile"]) == 0
        assert "reversed" in capsys.readouterr().err
    else:
        assert main(["import", str(usage)]) == 0
    assert ledger(pacspace_sandbox) == file_sums(edited)

    # And once more, unchanged: nothing is sent at all.
    before = requests(pacspace_sandbox)
    assert main(["import", str(usage)]) == 0
    assert requests(pacspace_sandbox) == before
    assert ledger(pacspace_sandbox) == file_sums(edited)


def test_a_line_deleted_then_put_back_is_recorded_again(
    tmp_path: Path, env: dict[str, str], pacspace_sandbox: Sandbox
) -> None:
    usage = tmp_path / "usage.csv"
    write(usage, FIVE)
    assert main(["import", str(usage)]) == 0
    write(usage, [FIVE[0], *FIVE[2:]])
    assert main(["import", str(usage), "--reconcile"]) == 0
    assert ledger(pacspace_sandbox) == file_sums([FIVE[0], *FIVE[2:]])
    write(usage, FIVE)  # the same line, back: the service answers its old id as reversed
    assert main(["import", str(usage), "--reconcile"]) == 0
    assert ledger(pacspace_sandbox) == file_sums(FIVE)


def test_only_the_fixed_line_is_sent(
    tmp_path: Path, env: dict[str, str], pacspace_sandbox: Sandbox
) -> None:
    usage = tmp_path / "usage.csv"
    lines = ["customerId,delta,reason", *(f"c{i},-{i},api" for i in range(1, 41))]
    broken = [*lines[:20], "c20,abc,api", *lines[21:]]
    write(usage, broken)
    assert main(["import", str(usage)]) == 1
    assert requests(pacspace_sandbox) == 39
    write(usage, lines)
    assert main(["import", str(usage)]) == 0
    assert requests(pacspace_sandbox) == 40  # the fixed line alone, no replay of the rest
    assert ledger(pacspace_sandbox) == file_sums(lines)


def test_own_reference_ids_changed_or_repeated_are_refused(
    tmp_path: Path,
    env: dict[str, str],
    pacspace_sandbox: Sandbox,
    capsys: pytest.CaptureFixture[str],
) -> None:
    usage = tmp_path / "usage.csv"
    lines = ["customerId,delta,reason,referenceId", "c1,-1,api,r-1", "c2,-2,api,r-2"]
    write(usage, lines)
    assert main(["import", str(usage)]) == 0
    write(usage, [lines[0], "c1,-10,api,r-1", lines[2]])  # content changed, id kept
    assert main(["import", str(usage), "--reconcile"]) == 2
    assert "line 2: the referenceId 'r-1' was recorded by an earlier run" in capsys.readouterr().err
    write(usage, [*lines, "c3,-3,api,r-2"])
    assert main(["import", str(usage)]) == 2
    assert "'r-2' is on lines 3, 4" in capsys.readouterr().err
    assert ledger(pacspace_sandbox) == file_sums(lines)


_customers = st.sampled_from(["a", "b", "c"])
_amounts = st.sampled_from(["-1", "-2", "2.5", "-0.25", "7"])
_lines = st.builds(lambda c, d, r: f"{c},{d},{r}", _customers, _amounts, st.sampled_from("xy"))
_edit = st.one_of(
    st.tuples(st.just("insert"), st.integers(0, 20), _lines),
    st.tuples(st.just("delete"), st.integers(0, 20), st.just("")),
    st.tuples(st.just("change"), st.integers(0, 20), _lines),
    st.tuples(st.just("blank"), st.integers(0, 20), st.just("")),
    st.tuples(st.just("reorder"), st.integers(0, 20), st.just("")),
)
_runs = itertools.count()


def _apply(body: list[str], edit: tuple[str, int, str]) -> list[str]:
    kind, at, line = edit
    at = at % (len(body) + 1)
    if kind == "insert":
        return [*body[:at], line, *body[at:]]
    if kind == "blank":
        return [*body[:at], "", *body[at:]]
    if not body:
        return body
    at %= len(body)
    if kind == "delete":
        return [*body[:at], *body[at + 1 :]]
    if kind == "change":
        return [*body[:at], line, *body[at + 1 :]]
    return body[at:] + body[:at]


@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
@given(first=st.lists(_lines, max_size=6), edits=st.lists(_edit, min_size=1, max_size=3))
def test_any_edits_reconciled_leave_the_last_file(
    tmp_path: Path,
    env: dict[str, str],
    pacspace_sandbox: Sandbox,
    first: list[str],
    edits: list[tuple[str, int, str]],
) -> None:
    run = next(_runs)
    prefix = f"h{run}_"
    usage = tmp_path / f"usage{run}.csv"
    body = first
    for edit in [None, *edits]:
        if edit is not None:
            body = _apply(body, edit)
        lines = ["customerId,delta,reason", *(prefix + b if b else "" for b in body)]
        write(usage, lines)
        assert main(["import", str(usage), "--reconcile"]) == 0
        assert ledger(pacspace_sandbox, prefix) == file_sums(lines, prefix)


# -- input as files really are ---------------------------------------------------------------


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "pacspace_cli", "import", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Traceback" not in done.stdout + done.stderr, done.stderr
    return done


@pytest.mark.parametrize(
    ("header", "named"),
    [
        (
            "customerId,delta,reason,customerId",
            "the column 'customerId' appears 2 times (columns 1, 4)",
        ),
        ("customerId,delta,delta,reason", "the column 'delta' appears 2 times (columns 2, 3)"),
        ("customerId,reason", "no 'delta' column"),
    ],
)
def test_a_bad_header_stops_before_anything_is_sent(
    tmp_path: Path,
    env: dict[str, str],
    pacspace_sandbox: Sandbox,
    capsys: pytest.CaptureFixture[str],
    header: str,
    named: str,
) -> None:
    usage = tmp_path / "usage.csv"
    write(usage, [header, "c1,-1,api,c9"])
    assert main(["import", str(usage)]) == 2
    assert named in capsys.readouterr().err
    assert requests(pacspace_sandbox) == 0


def test_a_repeated_json_key_names_its_line(
    tmp_path: Path,
    env: dict[str, str],
    pacspace_sandbox: Sandbox,
    capsys: pytest.CaptureFixture[str],
) -> None:
    usage = tmp_path / "usage.jsonl"
    usage.write_text(
        '{"customerId": "c1", "delta": -1, "delta": -1000, "reason": "api"}\n'
        '{"customerId": "c2", "delta": -2, "reason": "api"}\n'
    )
    assert main(["import", str(usage)]) == 1
    assert "line 1: line: the line has the key 'delta' twice" in capsys.readouterr().err
    assert ledger(pacspace_sandbox) == {"c2": (1, Decimal(-2))}


@pytest.mark.parametrize("name", ["usage.csv", "usage.jsonl"])
def test_a_bom_is_skipped(
    tmp_path: Path, env: dict[str, str], pacspace_sandbox: Sandbox, name: str
) -> None:
    usage = tmp_path / name
    text = (
        "customerId,delta,reason\nc1,-1,api\n"
        if name.endswith(".csv")
        else '{"customerId": "c1", "delta": -1, "reason": "api"}\n'
    )
    usage.write_bytes(b"\xef\xbb\xbf" + text.encode())
    assert main(["import", str(usage)]) == 0
    assert ledger(pacspace_sandbox) == {"c1": (1, Decimal(-1))}


@pytest.mark.parametrize("name", ["usage.csv", "usage.jsonl"])
@pytest.mark.parametrize("dry_run", [False, True])
def test_bytes_that_are_not_utf8_are_named_by_line_and_column(
    tmp_path: Path, env: dict[str, str], pacspace_sandbox: Sandbox, name: str, dry_run: bool
) -> None:
    usage = tmp_path / name
    if name.endswith(".csv"):
        lines = [b"customerId,delta,reason", *(f"c{i},-1,api".encode() for i in range(1, 700))]
        lines[500] = b"c500,-1,\xffapi"
        bad, column = "line 501", 9
    else:
        lines = [
            f'{{"customerId": "c{i}", "delta": -1, "reason": "api"}}'.encode()
            for i in range(1, 700)
        ]
        lines[499] = b'{"customerId": "c0500", "delta": -1, "reason": "a\xfe"}'
        bad, column = "line 500", 50
    usage.write_bytes(b"\n".join(lines) + b"\n")
    done = _cli([str(usage), *(["--dry-run"] if dry_run else [])], env)
    assert done.returncode == 1
    said = done.stdout + done.stderr
    assert f"{bad}: line: the line has a byte that is not UTF-8 (0x" in said
    assert f"at column {column}" in said
    assert len(ledger(pacspace_sandbox)) == (0 if dry_run else 698)  # the rest go on


def test_an_over_long_line_is_named_and_never_read_whole(tmp_path: Path) -> None:
    big, small = tmp_path / "big.csv", tmp_path / "small.csv"
    header = b"customerId,delta,reason,metadata.note\n"
    small.write_bytes(header + b"c1,-1,api,x\n")
    with big.open("wb") as out:
        out.write(header + b"c1,-1,api,x\nc2,-1,api,")
        chunk = b"y" * (1 << 20)
        for _ in range(64):  # a 64 MiB line
            out.write(chunk)
        out.write(b"\nc3,-1,api,z")  # and a last line with no newline
    env = {**os.environ, "PACSPACE_API_KEY": "pk_test_a.b"}
    done = _cli([str(big), "--dry-run"], env)
    assert done.returncode == 1
    assert "line 3: line: the line is longer than 1,048,576 bytes (--max-line-bytes)" in done.stdout
    assert "2 lines would be sent, 1 are bad" in done.stderr
    cli = [sys.executable, "-m", "pacspace_cli", "import", "--dry-run"]
    grown = peak_rss_mb([*cli, str(big)], env) - peak_rss_mb([*cli, str(small)], env)
    assert grown < 16, f"peak memory grew {grown:.1f} MB for a 64 MiB line"


def test_a_field_past_csv_s_own_limit_is_read(
    tmp_path: Path, env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    usage = tmp_path / "usage.csv"
    write(usage, ["customerId,delta,reason,metadata.note", "c1,-1,api," + "n" * 200_000])
    main(["import", str(usage), "--dry-run"])  # whatever the SDK makes of it, it says so
    said = capsys.readouterr()
    assert "1 lines would be sent" in said.err or "line 2: " in said.out


def _store(usage: Path) -> Path:
    return usage.with_name(usage.name + ".pacspace-import.sqlite3")


def _garbage(store: Path) -> None:
    store.write_bytes(b"not a database at all, just text" * 100)


def _truncated(store: Path) -> None:
    store.write_bytes(store.read_bytes()[:1500])


def _directory(store: Path) -> None:
    store.unlink()
    store.mkdir()


def _missing_column(store: Path) -> None:
    with sqlite3.connect(store) as db:
        db.execute("ALTER TABLE recorded DROP COLUMN reversal")


def _newer_version(store: Path) -> None:
    with sqlite3.connect(store) as db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'version'")


@pytest.mark.parametrize(
    "spoil", [_garbage, _truncated, _directory, _missing_column, _newer_version]
)
def test_a_progress_store_that_cannot_be_read_says_how_to_start_over(
    tmp_path: Path,
    env: dict[str, str],
    pacspace_sandbox: Sandbox,
    spoil: Callable[[Path], None],
) -> None:
    usage = tmp_path / "usage.csv"
    write(usage, FIVE)
    assert _cli([str(usage)], env).returncode == 0
    for leftover in ("-wal", "-shm"):
        assert not Path(f"{_store(usage)}{leftover}").exists()
    spoil(_store(usage))
    done = _cli([str(usage)], env)
    assert done.returncode == 2
    assert f"the progress store {_store(usage)}" in done.stderr
    assert "--restart" in done.stderr
    if spoil is not _directory:
        assert _cli([str(usage), "--restart"], env).returncode == 0  # all replays
    assert ledger(pacspace_sandbox) == file_sums(FIVE)


def test_progress_of_an_earlier_version_is_not_taken_for_nothing(
    tmp_path: Path, env: dict[str, str], pacspace_sandbox: Sandbox
) -> None:
    usage = tmp_path / "usage.csv"
    write(usage, FIVE)
    usage.with_name("usage.csv.pacspace-import.json").write_text('{"importId": "usage.csv", "li')
    done = _cli([str(usage)], env)
    assert done.returncode == 2
    assert "earlier version of pacspace import" in done.stderr
    assert requests(pacspace_sandbox) == 0


def test_progress_into_another_service_is_refused(
    tmp_path: Path, env: dict[str, str], pacspace_sandbox: Sandbox
) -> None:
    usage = tmp_path / "usage.csv"
    write(usage, FIVE)
    assert _cli([str(usage)], env).returncode == 0
    other = {**env, "PACSPACE_API_BASE_URL": "http://127.0.0.1:9"}
    done = _cli([str(usage)], other)
    assert done.returncode == 2
    assert "--restart to import the file into this service" in done.stderr


def test_a_fifo_is_refused_at_once(tmp_path: Path, env: dict[str, str]) -> None:
    fifo = tmp_path / "usage.csv"
    os.mkfifo(fifo)
    done = _cli([str(fifo)], env)
    assert done.returncode == 2
    assert "is not a regular file (a FIFO, a device or a socket)" in done.stderr


# -- output ----------------------------------------------------------------------------------


def test_the_summary_is_a_table_without_markup_text() -> None:
    from rich.console import Console

    console = Console(file=io.StringIO(), width=100, markup=False, highlight=False)
    tally = Tally()
    tally.add("api", "recorded")
    tally.add("api", "reversed")
    summary(console, tally, interrupted=False, waited=False)
    out = console.file.getvalue()  # type: ignore[attr-defined]
    assert "[bold]" not in out
    assert "reversed" in out and "all" in out


def test_the_time_left_holds_still_at_a_steady_pace() -> None:
    now = [0.0]
    rate = Rate(clock=lambda: now[0])
    done = 0
    lefts = []
    for step in range(600):  # 800 lines a second, answers arriving in bursts
        now[0] += 0.1
        done += 240 if step % 3 == 0 else 0
        rate.update(done)
        if step > 100 and rate.per_second:
            lefts.append(100_000 / rate.per_second)
    assert min(lefts) > 0.8 * 125 and max(lefts) < 1.2 * 125


def test_reading_shows_progress(
    tmp_path: Path, env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    usage = tmp_path / "usage.csv"
    write(usage, FIVE)
    assert main(["import", str(usage), "--dry-run"]) == 0
    assert "read" in capsys.readouterr().err
