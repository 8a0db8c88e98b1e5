"""Usage is recorded exactly once: the causes of loss and double counts, one test each.

Each test runs the SDK the way a service does (two reasons, equal totals, several
producers, a close with a window still open, a fork) against the in-process sandbox, and
compares the ledger with the sum of what was added.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import pacspace_async as ps
from pacspace_async import PacSpace
from pacspace_sandbox import Sandbox
from tests._clients import FAST

WINDOW = {"windowStart": "2026-05-27T00:00:00Z", "windowEnd": "2026-05-28T00:00:00Z"}


@pytest.fixture
def make(client_factory: Callable[..., PacSpace]) -> Callable[..., PacSpace]:
    return client_factory


def ledger(sandbox: Sandbox) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = {}
    for row in sandbox.ledger.store.all("SELECT customer_id, amount FROM deltas"):
        totals[row["customer_id"]] = totals.get(row["customer_id"], Decimal(0)) + Decimal(
            row["amount"]
        )
    return totals


async def test_two_reasons_in_one_window_are_both_recorded(
    make: Callable[..., PacSpace], pacspace_sandbox: Sandbox
) -> None:
    pac = make(autoStart=False)
    pac.balance.queue_summary({"customerId": "c", "delta": -10, "reason": "compute", **WINDOW})
    pac.balance.queue_summary({"customerId": "c", "delta": -5, "reason": "storage", **WINDOW})
    await pac.balance.flush_summaries()
    assert ledger(pacspace_sandbox) == {"c": -15}


async def test_two_producers_with_equal_totals_are_both_recorded(
    make: Callable[..., PacSpace], pacspace_sandbox: Sandbox
) -> None:
    one, two = make(autoStart=False), make(autoStart=False)
    for pac in (one, two):
        pac.balance.queue_summary({"customerId": "c", "delta": -7, **WINDOW})
        await pac.balance.flush_summaries()
    assert ledger(pacspace_sandbox) == {"c": -14}


async def test_two_meters_with_equal_totals_are_both_recorded(
    make: Callable[..., PacSpace], pacspace_sandbox: Sandbox
) -> None:
    clients = [make(autoStart=False) for _ in range(2)]
    for pac in clients:
        meter = pac.balance.meter(window="1s")
        meter._clock = lambda: 1_779_840_010.0  # type: ignore[method-assign]  # long ended
        meter.add("c", -3)
        meter.add("c", -4, reason="other")
    for pac in clients:
        await pac.balance.flush_summaries()
    assert ledger(pacspace_sandbox) == {"c": -14}


async def test_a_meter_starts_the_scheduler_by_itself(
    make: Callable[..., PacSpace], pacspace_sandbox: Sandbox
) -> None:
    pac = make(cadenceMs=50, journalIntervalMs=20)
    meter = pac.balance.meter(window="1s")
    assert pac.balance.get_summary_queue_state().is_running
    meter.add("c", -2)
    for _ in range(300):
        if ledger(pacspace_sandbox):
            break
        await asyncio.sleep(0.02)
    assert ledger(pacspace_sandbox) == {"c": -2}  # sent with no other call


async def test_close_sends_the_open_window(
    make: Callable[..., PacSpace], pacspace_sandbox: Sandbox
) -> None:
    pac = make(autoStart=False)
    meter = pac.balance.meter()  # a whole UTC day: open for hours yet
    meter.add("c", -1.5)
    meter.add("d", 2)
    report = await pac.aclose()
    assert ledger(pacspace_sandbox) == {"c": Decimal("-1.5"), "d": 2}
    assert report is not None and report.undelivered == 0 and report.lost == 0


async def test_adds_after_a_window_was_sealed_are_a_new_slice(
    make: Callable[..., PacSpace], pacspace_sandbox: Sandbox
) -> None:
    pac = make(autoStart=False)
    meter = pac.balance.meter()
    meter._clock = lambda: 1_779_840_010.0  # type: ignore[method-assign]  # 2026-05-27, ended
    meter.add("c", -1)
    assert (await pac.balance.flush_summaries()).accepted == 1  # the day is sealed and sent
    meter.add("c", -1)  # late usage for the same customer, reason, day and total
    assert (await pac.balance.flush_summaries()).accepted == 1
    assert ledger(pacspace_sandbox) == {"c": -2}
    rows = pacspace_sandbox.ledger.store.all("SELECT reference_id FROM deltas")
    assert len({row["reference_id"] for row in rows}) == len(rows) == 2


async def test_undeliverable_usage_is_never_lost_silently(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pac = PacSpace(
        "pk_test_a.b",
        base_url="http://127.0.0.1:9",  # nothing listens there
        max_retries=0,
        submission={"autoStart": False, "shutdownTimeoutMs": 5_000},
    )
    pac.balance.queue_summary({"customerId": "c", "delta": -4})
    pac.balance.meter().add("d", -6)
    with caplog.at_level(logging.WARNING, logger="pacspace"):
        report = await pac.aclose()
    assert report is not None and report.lost == 2 and report.undelivered == 2
    [record] = [r for r in caplog.records if "lost" in r.getMessage()]
    assert "2 usage summaries" in record.getMessage() and "-10" in record.getMessage()


async def test_close_releases_the_connections_whatever_the_outbox_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outbox = tmp_path / "outbox.sqlite3"
    pac = PacSpace("pk_test_a.b", base_url="http://127.0.0.1:9", submission={"outbox": str(outbox)})
    pac.balance.queue_summary({"customerId": "c", "delta": -4})
    store = pac._summaries.store

    def disk_full(**_: Any) -> int:
        raise ps.OutboxError("Summary outbox failed (database or disk is full)", str(outbox))

    monkeypatch.setattr(store, "seal", disk_full)
    report = await pac.aclose()  # does not raise: the report says what happened
    assert report.error is not None and "full" in report.error
    assert report.undelivered == 1 and report.lost == 0  # kept in the outbox
    assert pac._transport.closed


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"maxDeltasPerRequest": 500}, "maxDeltasPerRequest"),
        ({"maxDeltasPerRequest": 0}, "maxDeltasPerRequest"),
        ({"maxQueued": True}, "maxQueued"),
        ({"autoStart": "no"}, "autoStart"),
        ({"autoFlushOnShutdown": 1}, "autoFlushOnShutdown"),
        ({"maxRequestsPerMinute": 1.5}, "maxRequestsPerMinute"),
        ({"cadenceMs": "1000"}, "cadenceMs"),
        ({"defaultReason": ""}, "defaultReason"),
        ({"outbox": 3}, "outbox"),
        ({"onDrop": "print"}, "onDrop"),
        ({"journalIntervalMs": 0}, "journalIntervalMs"),
    ],
)
def test_submission_settings_are_validated_strictly(options: dict[str, Any], field: str) -> None:
    with pytest.raises(ps.ValidationError) as caught:
        PacSpace("pk_test_a.b", base_url="http://127.0.0.1:9", submission=options)
    assert caught.value.field == field and field in caught.value.message


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
async def test_a_forked_child_starts_its_meters_empty(
    make: Callable[..., PacSpace], pacspace_sandbox: Sandbox
) -> None:
    pac = make(autoStart=False)
    meter = pac.balance.meter()
    meter.add("c", -5)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: what it sees of the parent's usage
        seen = sum(Decimal(s["delta"]) for s in meter.snapshot())
        os.write(write, str(seen).encode())
        os._exit(0)
    await asyncio.to_thread(os.waitpid, pid, 0)
    assert os.read(read, 100) == b"0"
    os.close(read)
    os.close(write)
    await pac.aclose()
    assert ledger(pacspace_sandbox) == {"c": -5}


def test_identity_is_stable_for_the_same_slice() -> None:
    from pacspace_async.summaries._identity import reference_id

    first = reference_id("sqlite:abc", "c", "usage", "a", "b", 1)
    assert first == reference_id("sqlite:abc", "c", "usage", "a", "b", 1)
    others = {
        reference_id("sqlite:abd", "c", "usage", "a", "b", 1),
        reference_id("sqlite:abc", "c", "other", "a", "b", 1),
        reference_id("sqlite:abc", "c", "usage", "a", "b", 2),
        reference_id("sqlite:abc", "c|usage", "", "a", "b", 1),
    }
    assert first not in others and len(others) == 4
    assert sys.maxsize  # keeps the import list honest for the fork test above


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_a_blocking_clients_meter_carries_on_in_a_forked_child(
    pacspace_sandbox: Sandbox, pacspace_server: Any
) -> None:
    import pacspace_sync

    pac = pacspace_sync.PacSpace(
        pacspace_sandbox.api_key, base_url=pacspace_server.url, submission=FAST
    )
    meter = pac.balance.meter()
    meter.add("parent", -1)
    pid = os.fork()
    if pid == 0:  # a worker forked from a preloaded app: only meter.add, then its shutdown
        code = 1
        try:
            meter.add("child", -2)
            meter.add("child", -3, reason="other")
            report = pac.close()
            code = 0 if report is not None and report.undelivered == 0 else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    pac.close()
    assert ledger(pacspace_sandbox) == {"parent": -1, "child": -5}


async def test_a_meter_made_after_the_scheduler_started_is_journaled_at_once(
    tmp_path: Path,
) -> None:
    outbox = tmp_path / "outbox.sqlite3"
    pac = PacSpace(
        "pk_test_a.b",
        base_url="http://127.0.0.1:9",
        submission={"outbox": str(outbox), "journalIntervalMs": 50, "autoFlushOnShutdown": False},
    )
    pac.balance.queue_summary({"customerId": "c", "delta": -1})  # starts the scheduler
    await asyncio.sleep(0.05)  # its ticker now sleeps its idle minute
    pac.balance.meter().add("c", -2)
    for _ in range(100):
        if pac._summaries.store.stats().usage:
            break
        await asyncio.sleep(0.01)
    assert pac._summaries.store.stats().usage == 1  # journaled within a tick, not a minute
    await pac.aclose()
