"""``pacspace import``: every line once, resumable, bad lines named, flat memory."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest

from pacspace_cli import main
from pacspace_sandbox import Sandbox, SandboxServer

from ._memory import peak_rss_mb

CSV = (
    "customerId,delta,reason,referenceId,metadata.region\n"
    "c1,-4.5,api_calls,,eu\n"
    "c2,10,storage,r-2,\n"
    "c3,abc,api_calls,,\n"
    "c1,1.25,api_calls,,us\n"
)


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


def deltas(sandbox: Sandbox) -> list[tuple[str, Decimal, str, str]]:
    rows = sandbox.ledger.store.all(
        "SELECT customer_id, amount, reason, metadata FROM deltas ORDER BY customer_id, amount"
    )
    return [(r[0], Decimal(str(r[1])), r[2], r[3]) for r in rows]


@pytest.fixture
def usage(tmp_path: Path, env: dict[str, str]) -> Path:
    """``usage.csv`` (four lines, the third bad), to import against the sandbox."""
    path = tmp_path / "usage.csv"
    path.write_text(CSV)
    return path


def test_a_csv_is_imported_once_however_often_it_runs(
    usage: Path, pacspace_sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["import", str(usage)]) == 1  # one bad line
    out = capsys.readouterr()
    assert "line 4: delta: " in out.err
    recorded = deltas(pacspace_sandbox)
    assert [(c, a, r) for c, a, r, _ in recorded] == [
        ("c1", Decimal("-4.5"), "api_calls"),
        ("c1", Decimal("1.25"), "api_calls"),
        ("c2", Decimal("10"), "storage"),
    ]
    assert json.loads(recorded[0][3]) == {"region": "eu"}

    # Again: the done lines are skipped, the bad one tried again; nothing is recorded twice.
    assert main(["import", str(usage)]) == 1
    assert "3 lines were done by an earlier run" in capsys.readouterr().err
    # Without the saved progress: every line goes again and is a replay.
    assert main(["import", str(usage), "--restart"]) == 1
    assert "replayed" in capsys.readouterr().err
    assert len(deltas(pacspace_sandbox)) == 3
    # The bad line fixed in place: only it is new.
    usage.write_text(CSV.replace("c3,abc", "c3,7"))
    assert main(["import", str(usage)]) == 0
    assert len(deltas(pacspace_sandbox)) == 4


def test_json_lines_with_a_metadata_object(
    tmp_path: Path, env: dict[str, str], pacspace_sandbox: Sandbox
) -> None:
    usage = tmp_path / "usage.jsonl"
    usage.write_text(
        '{"customerId": "c1", "delta": 0.1, "reason": "r", "metadata": {"a": 1}}\n'
        "\n"
        '{"customerId": "c2", "delta": "1234567890.123456789", "reason": "r",'
        ' "metadata.b": "x"}\n'
    )
    assert main(["import", str(usage), "--wait"]) == 0
    recorded = deltas(pacspace_sandbox)
    assert [(c, a) for c, a, _, _ in recorded] == [
        ("c1", Decimal("0.1")),
        ("c2", Decimal("1234567890.123456789")),
    ]
    assert json.loads(recorded[0][3]) == {"a": 1} and json.loads(recorded[1][3]) == {"b": "x"}


def test_a_dry_run_names_each_bad_line_and_sends_nothing(
    usage: Path, pacspace_sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    usage.write_text(CSV + "c4,,api_calls,,\nc5,1,,,\nc6,1,r,,,extra\n")
    assert main(["import", str(usage), "--dry-run"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "line 4: delta: delta is not a number: 'abc'",
        "line 6: delta: delta is missing",
        "line 7: reason: reason is missing",
        "line 8: line: the line has 6 values for 5 columns",
    ]
    assert deltas(pacspace_sandbox) == []


def test_an_unknown_column_stops_before_anything_is_sent(
    tmp_path: Path, env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    usage = tmp_path / "usage.csv"
    usage.write_text("customerId,amount,reason\nc1,1,r\n")
    assert main(["import", str(usage)]) == 2
    assert "unknown column 'amount'" in capsys.readouterr().err


@pytest.mark.parametrize(("stop", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_ctrl_c_stops_cleanly_and_the_next_run_picks_up(
    tmp_path: Path, env: dict[str, str], pacspace_sandbox: Sandbox, stop: int, code: int
) -> None:
    usage = tmp_path / "usage.csv"
    lines = 4000
    usage.write_text(
        "customerId,delta,reason\n" + "".join(f"c{i % 50},{i},r\n" for i in range(lines))
    )
    state = tmp_path / "usage.csv.pacspace-import.sqlite3"
    command = [sys.executable, "-m", "pacspace_cli", "import", str(usage), "--concurrency", "8"]
    first = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while _recorded(state) == 0:
        assert time.monotonic() < deadline and first.poll() is None, "no progress saved"
        time.sleep(0.05)
    first.send_signal(stop)
    _, err = first.communicate(timeout=60)
    assert first.returncode == code, err
    assert "(stopped)" in err and "run the same command again" in err
    done_before = _recorded(state)
    assert 0 < done_before < lines

    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stderr
    assert "lines were done by an earlier run" in second.stderr
    total = pacspace_sandbox.ledger.store.all("SELECT COUNT(*), SUM(amount) FROM deltas")[0]
    assert total[0] == lines and Decimal(str(total[1])) == sum(range(lines))


def _recorded(store: Path) -> int:
    """Lines the progress store beside a file holds as recorded (0 before it exists)."""
    if not store.exists():
        return 0
    with contextlib.closing(sqlite3.connect(f"file:{store}?mode=ro", uri=True)) as db:
        try:
            return int(db.execute("SELECT count(*) FROM recorded").fetchone()[0])
        except sqlite3.OperationalError:  # being created
            return 0


def test_a_million_lines_in_flat_memory(tmp_path: Path) -> None:
    big, small = tmp_path / "big.csv", tmp_path / "small.csv"
    with big.open("w") as out:
        out.write("customerId,delta,reason,metadata.region\n")
        for i in range(1_000_000):
            out.write(f"cust_{i % 5000},{i % 97 - 40}.5,api_calls,eu\n")
    with big.open() as lines:
        small.write_text("".join(itertools.islice(lines, 1001)))
    env = {**os.environ, "PACSPACE_API_KEY": "pk_test_a.b"}
    cli = [sys.executable, "-m", "pacspace_cli", "import", "--dry-run"]
    grown = peak_rss_mb([*cli, str(big)], env) - peak_rss_mb([*cli, str(small)], env)
    assert grown < 16, f"peak memory grew {grown:.1f} MB from 1,000 to 1,000,000 lines"
