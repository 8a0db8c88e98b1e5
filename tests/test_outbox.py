"""The durable outbox: nothing queued is lost, nothing is recorded twice."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

import pacspace_async as ps
from pacspace_async import PacSpace
from pacspace_sandbox import IN_PROCESS_URL, Sandbox, SandboxConfig, SandboxServer
from tests._clients import FAST


@pytest.fixture
def pacspace_sandbox_config() -> SandboxConfig:
    return SandboxConfig(verify_latency=0.0)


def outbox_rows(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(
            db.execute("SELECT COUNT(*) FROM pacspace_summaries WHERE state != 'dead'").fetchone()[
                0
            ]
        )


def recorded(sandbox: Sandbox) -> tuple[int, int]:
    store = sandbox.ledger.store
    return (
        int(store.scalar("SELECT COUNT(*) FROM deltas")),
        int(store.scalar("SELECT COUNT(DISTINCT reference_id) FROM deltas")),
    )


def script(url: str, key: str, outbox: Path, body: str) -> list[str]:
    code = f"""
        import asyncio, sys
        from pacspace_async import PacSpace
        SUBMISSION = {{"outbox": {str(outbox)!r}, "maxDeltasPerRequest": 5, "maxRequestsPerMinute": 600,
                       "autoStart": False, "autoFlushOnShutdown": False}}
        async def main():
            pac = PacSpace({key!r}, base_url={url!r}, submission=SUBMISSION)
{textwrap.indent(textwrap.dedent(body), " " * 12)}
        asyncio.run(main())
    """
    return [sys.executable, "-c", textwrap.dedent(code)]


def test_queued_summaries_are_on_disk_before_queue_summary_returns(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox.sqlite3"
    pac = PacSpace(
        "pk_test_a.b",
        base_url="http://127.0.0.1:9",
        submission={"outbox": str(outbox), "autoStart": False},
    )
    pac.balance.queue_summary({"customerId": "c", "delta": 1})
    assert outbox_rows(outbox) == 1  # read by another connection: committed
    again = PacSpace(
        "pk_test_a.b",
        base_url="http://127.0.0.1:9",
        submission={"outbox": str(outbox), "autoStart": False},
    )
    assert again.balance.get_summary_queue_state().queued_count == 1
    assert again.balance.get_summary_queue_state().outbox == str(outbox)


def test_sigkill_in_the_middle_of_a_flush_loses_nothing_and_doubles_nothing(
    pacspace_server: SandboxServer, pacspace_sandbox: Sandbox, tmp_path: Path
) -> None:
    outbox = tmp_path / "outbox.sqlite3"
    total = 200
    queue = script(
        pacspace_server.url,
        pacspace_sandbox.api_key,
        outbox,
        f"""
        for i in range({total}):
            pac.balance.queue_summary({{"customerId": f"cust_{{i}}", "delta": -i - 1}})
        print("queued", flush=True)
        await pac.balance.flush_summaries()
        print("flushed", flush=True)
    """,
    )
    process = subprocess.Popen(queue, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdout.readline().strip() == "queued"
    deadline = time.monotonic() + 30
    while recorded(pacspace_sandbox)[0] < 40 and time.monotonic() < deadline:
        time.sleep(0.005)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(10)
    sent_before, _ = recorded(pacspace_sandbox)
    assert 0 < sent_before < total, "the kill must land mid-flush"
    waiting = outbox_rows(outbox)
    assert 0 < waiting <= total - sent_before + 5

    resume = script(
        pacspace_server.url,
        pacspace_sandbox.api_key,
        outbox,
        """
        result = await pac.balance.flush_summaries()
        print(result.accepted, result.replayed, result.queued_after_flush, flush=True)
    """,
    )
    done = subprocess.run(resume, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    accepted, replayed, left = map(int, done.stdout.split())
    assert accepted == waiting and left == 0 and outbox_rows(outbox) == 0
    assert recorded(pacspace_sandbox) == (total, total)  # every summary once: none lost, none twice
    assert replayed <= 5  # at most the batch in flight at the kill is sent again


def test_processes_sharing_one_outbox_do_not_corrupt_it(
    pacspace_server: SandboxServer, pacspace_sandbox: Sandbox, tmp_path: Path
) -> None:
    outbox = tmp_path / "outbox.sqlite3"
    writers = [
        subprocess.Popen(
            script(
                pacspace_server.url,
                pacspace_sandbox.api_key,
                outbox,
                f"""
            for i in range(100):
                pac.balance.queue_summary({{"customerId": f"w{n}_{{i}}", "delta": 1}})
            await pac.balance.flush_summaries({{"maxItems": 50}})
        """,
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(3)
    ]
    for writer in writers:
        _, err = writer.communicate(timeout=60)
        assert writer.returncode == 0, err
    with sqlite3.connect(outbox) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    final = subprocess.run(
        script(
            pacspace_server.url,
            pacspace_sandbox.api_key,
            outbox,
            "await pac.balance.flush_summaries()",
        ),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert final.returncode == 0, final.stderr
    assert recorded(pacspace_sandbox) == (300, 300) and outbox_rows(outbox) == 0


def test_an_unclosed_in_memory_queue_is_flushed_at_exit(
    pacspace_server: SandboxServer, pacspace_sandbox: Sandbox
) -> None:
    code = f"""
        import asyncio
        from pacspace_async import PacSpace
        async def main():
            pac = PacSpace({pacspace_sandbox.api_key!r}, base_url={pacspace_server.url!r})
            pac.balance.queue_summary({{"customerId": "at_exit", "delta": 5}})
        asyncio.run(main())
    """
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert recorded(pacspace_sandbox) == (1, 1)


# -- owners, producers, dead letters, failures -------------------------------------------


def client(sandbox: Sandbox, outbox: Path, **submission: Any) -> PacSpace:
    return PacSpace(
        sandbox.api_key,
        base_url=IN_PROCESS_URL,
        http_client=httpx.AsyncClient(transport=sandbox.transport()),
        submission={"outbox": str(outbox), "autoStart": False, **FAST, **submission},
    )


async def test_a_client_sends_only_its_own_rows(pacspace_sandbox: Sandbox, tmp_path: Path) -> None:
    outbox = tmp_path / "outbox.sqlite3"
    other = PacSpace(
        "pk_test_other.key",
        base_url="http://127.0.0.1:9",
        submission={"outbox": str(outbox), "autoStart": False, "autoFlushOnShutdown": False},
    )
    other.balance.queue_summary({"customerId": "theirs", "delta": -9})
    ours = client(pacspace_sandbox, outbox)
    ours.balance.queue_summary({"customerId": "ours", "delta": -1})
    result = await ours.balance.flush_summaries()
    assert result.accepted == 1
    assert recorded(pacspace_sandbox) == (1, 1)
    assert outbox_rows(outbox) == 1  # the other owner's row waits for its own client
    await ours.aclose()
    await other.aclose()


async def test_producers_on_one_file_never_overwrite_each_other(
    pacspace_sandbox: Sandbox, tmp_path: Path
) -> None:
    outbox = tmp_path / "outbox.sqlite3"
    one, two = client(pacspace_sandbox, outbox), client(pacspace_sandbox, outbox)
    for pac in (one, two):
        pac.balance.queue_summary({"customerId": "c", "delta": -5})
    assert outbox_rows(outbox) == 2
    await one.balance.flush_summaries()
    store = pacspace_sandbox.ledger.store
    assert Decimal(store.scalar("SELECT SUM(amount) FROM deltas")) == -10
    await one.aclose()
    await two.aclose()


async def test_a_poison_row_moves_aside_and_blocks_nothing(
    pacspace_sandbox: Sandbox, tmp_path: Path
) -> None:
    outbox = tmp_path / "outbox.sqlite3"
    pac = client(pacspace_sandbox, outbox, maxAttempts=1)
    pac.balance.queue_summary({"customerId": "first", "delta": -1})
    pac.balance.queue_summary({"customerId": "refused", "delta": -1})
    pac.balance.queue_summary({"customerId": "last", "delta": -1})
    with sqlite3.connect(outbox) as db:  # a row nobody can read
        db.execute("UPDATE pacspace_summaries SET delta = 'twelve' WHERE customer_id = 'last'")
        # An id the SDK refuses before queueing (over 128 characters), as an outbox
        # written by an older version may hold it: the service refuses it.
        db.execute(
            "UPDATE pacspace_summaries SET customer_id = ? WHERE customer_id = 'refused'",
            ("x" * 200,),
        )
    pac.balance.queue_summary({"customerId": "after", "delta": -1})
    result = await pac.balance.flush_summaries()
    assert result.accepted == 2 and result.dead_lettered == 1
    assert recorded(pacspace_sandbox) == (2, 2)
    state = pac.balance.get_summary_queue_state()
    assert state.queued_count == 0 and state.dead_letters == 2
    assert (await pac.balance.flush_summaries()).request_count == 0  # dead letters stay aside
    errors = sorted(d.last_error or "" for d in await pac.balance.list_dead_letters())
    assert "customerId" in errors[0] and errors[1].startswith("unreadable row")
    await pac.aclose()


def test_a_full_disk_is_an_outbox_error_and_keeps_what_was_queued(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox.sqlite3"
    pac = PacSpace(
        "pk_test_a.b",
        base_url="http://127.0.0.1:9",
        submission={"outbox": str(outbox), "autoStart": False, "autoFlushOnShutdown": False},
    )
    pac.balance.queue_summary({"customerId": "c0", "delta": -1})
    db = pac._summaries.store._connect()  # type: ignore[attr-defined]
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    db.execute(f"PRAGMA max_page_count = {pages}")  # the disk is now full
    with pytest.raises(ps.OutboxError) as caught:
        for i in range(1, 1000):
            pac.balance.queue_summary(
                {"customerId": f"c{i}", "delta": -1, "metadata": {"pad": f"c{i}" * 50}}
            )
    assert isinstance(caught.value, ps.PacSpaceError)
    assert str(outbox) in str(caught.value) and "free space" in str(caught.value)
    db.execute("PRAGMA max_page_count = 1073741823")
    assert outbox_rows(outbox) >= 1  # what was queued before is still there


def test_a_read_only_outbox_is_an_outbox_error(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox.sqlite3"
    pac = PacSpace(
        "pk_test_a.b",
        base_url="http://127.0.0.1:9",
        submission={"outbox": str(outbox), "autoStart": False, "autoFlushOnShutdown": False},
    )
    pac._summaries.store._connect().execute("PRAGMA query_only = 1")  # type: ignore[attr-defined]
    with pytest.raises(ps.OutboxError) as caught:
        pac.balance.queue_summary({"customerId": "c", "delta": -1})
    assert "write access" in str(caught.value) or "read-only" in str(caught.value)


def test_a_corrupt_outbox_is_an_outbox_error_naming_the_file(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox.sqlite3"
    outbox.write_bytes(b"this is not a database at all " * 200)
    with pytest.raises(ps.OutboxError) as caught:
        PacSpace("pk_test_a.b", base_url="http://127.0.0.1:9", submission={"outbox": str(outbox)})
    assert str(outbox) in str(caught.value) and "move the file aside" in str(caught.value)


def test_outbox_command_lists_and_retries_dead_letters(
    pacspace_server: SandboxServer, pacspace_sandbox: Sandbox, tmp_path: Path
) -> None:
    outbox = tmp_path / "outbox.sqlite3"
    queue = script(
        pacspace_server.url,
        pacspace_sandbox.api_key,
        outbox,
        """
        pac.balance.queue_summary({"customerId": "ok", "delta": -1})
        pac.balance.queue_summary({"customerId": "refused", "delta": -1})
        import sqlite3  # an id the SDK refuses, as an older version's outbox may hold it
        with sqlite3.connect(SUBMISSION["outbox"]) as db:
            db.execute("UPDATE pacspace_summaries SET customer_id = ? WHERE customer_id"
                       " = 'refused'", ("x" * 200,))
        for _ in range(3):  # maxAttempts: refused three times, it moves aside
            await pac.balance.flush_summaries()
        await pac.aclose()
    """,
    )
    assert subprocess.run(queue, capture_output=True, timeout=60).returncode == 0

    def cli(*args: str) -> str:
        where = ["--outbox", str(outbox), "--base-url", pacspace_server.url]
        key = ["--api-key", pacspace_sandbox.api_key]
        done = subprocess.run(
            [sys.executable, "-m", "pacspace_cli", "outbox", *args, *where, *key],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    listed = cli("list")
    assert "0 queued, 1 dead letters" in listed and "xxxx" in listed and "customerId" in listed
    assert "1 dead letters moved back" in cli("retry")
    assert "1 queued, 0 dead letters" in cli("list")


def test_dead_letters_are_counted_past_a_page(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox.sqlite3"
    pac = PacSpace(
        "pk_test_a.b",
        base_url="http://127.0.0.1:9",
        submission={"outbox": str(outbox), "autoStart": False, "autoFlushOnShutdown": False},
    )
    for i in range(150):
        pac.balance.queue_summary({"customerId": f"c{i}", "delta": -1})
    with sqlite3.connect(outbox) as db:
        db.execute("UPDATE pacspace_summaries SET state = 'dead'")
    assert pac.balance.get_summary_queue_state().dead_letters == 150
