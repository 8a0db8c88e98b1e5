"""The summary queue: the seeds' API with the official client's semantics, bounded."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from decimal import Decimal
from typing import Any

import httpx
import pytest
import respx

import pacspace_async as ps
from pacspace_async import PacSpace
from pacspace_async.summaries import QueueFullError
from pacspace_async.summaries._summary import normalize
from pacspace_sandbox import Sandbox

from .conftest import BASE, KEY, envelope


def rows(sandbox: Sandbox, sql: str = "SELECT * FROM deltas ORDER BY seq") -> list[Any]:
    return sandbox.ledger.store.all(sql)


async def test_seed_summary_without_window_is_flushed(
    client_factory: Any, pacspace_sandbox: Sandbox
) -> None:
    pac = client_factory()
    queued = pac.balance.queue_summary(
        {
            "customerId": "cust_acme",
            "delta": -100,
            "reason": "daily_usage",
            "referenceId": "usage_day_2026_05_27",
        }
    )
    assert queued.window_start.endswith("T00:00:00Z") and queued.window_end.endswith("T00:00:00Z")
    result = await pac.balance.flush_summaries()
    assert (result["accepted"], result["failed"], result.submitted, result.request_count) == (
        1,
        0,
        1,
        1,
    )
    assert result.queued_after_flush == 0
    [row] = rows(pacspace_sandbox)
    assert (row["customer_id"], Decimal(row["amount"]), row["reference_id"]) == (
        "cust_acme",
        -100,
        "usage_day_2026_05_27",
    )
    import json

    metadata = json.loads(row["metadata"])
    assert metadata["submissionType"] == "tenant_summary" and metadata["summaryProfile"] == "daily"
    assert metadata["summaryWindowStart"] == queued.window_start


async def test_same_customer_and_window_replaces(
    client_factory: Any, pacspace_sandbox: Sandbox
) -> None:
    pac = client_factory()
    window = {"windowStart": "2026-05-27T00:00:00Z", "windowEnd": "2026-05-28T00:00:00Z"}
    pac.balance.queue_summary({"customerId": "c", "delta": -10, **window})
    pac.balance.queue_summary({"customerId": "c", "delta": -25, **window})
    pac.balance.queue_summary({"customerId": "d", "delta": -1, **window})
    assert pac.balance.get_summary_queue_state().queued_count == 2
    await pac.balance.flush_summaries()
    assert sorted(Decimal(r["amount"]) for r in rows(pacspace_sandbox)) == [-25, -1]


WINDOW = {"windowStart": "2026-05-27T00:00:00+00:00", "windowEnd": "2026-05-28T00:00:00Z"}


def test_reference_ids_name_the_aggregate_never_its_amount() -> None:
    from pacspace_sdk.submission import SubmissionCoordinator

    summary = {"customerId": "c", "delta": -42.5, **WINDOW}
    official = [
        SubmissionCoordinator(submit_batch=lambda deltas: {}, options={"autoStart": False})
        for _ in range(2)
    ]
    theirs = [o.queue_summary(summary)["referenceId"] for o in official]
    assert theirs[0] == theirs[1]  # pacspace-sdk: two producers, one id: one of them is lost

    options = {"autoStart": False, "autoFlushOnShutdown": False}
    one, two = (PacSpace(KEY, base_url=BASE, submission=options) for _ in range(2))
    first = one.balance.queue_summary(summary)
    assert two.balance.queue_summary(summary).reference_id != first.reference_id
    other_reason = one.balance.queue_summary({**summary, "reason": "storage"})
    assert other_reason.reference_id != first.reference_id and other_reason.key != first.key
    assert one.balance.get_summary_queue_state().queued_count == 2  # two reasons: both kept
    replaced = one.balance.queue_summary({**summary, "delta": -50})
    assert replaced.reference_id == first.reference_id  # the same unsent slice, replaced
    assert first.key == "c|usage_summary|2026-05-27T00:00:00Z|2026-05-28T00:00:00Z"
    given = one.balance.queue_summary({**summary, "reason": "x", "referenceId": "mine"})
    assert given.reference_id == "mine"


async def test_batches_of_at_most_the_limit(client_factory: Any, pacspace_sandbox: Sandbox) -> None:
    pac = client_factory(maxDeltasPerRequest=10)
    pac.balance.queue_summaries({"customerId": f"c{i}", "delta": 1} for i in range(25))
    result = await pac.balance.flush_summaries({"maxItems": 21})
    assert result.request_count == 3 and result.submitted == 21 and result.queued_after_flush == 4
    assert len(rows(pacspace_sandbox)) == 21
    assert (await pac.balance.flush_summaries()).submitted == 4


async def test_refused_summaries_stay_queued_with_their_reason(client_factory: Any) -> None:
    pac = client_factory()
    # An id the SDK refuses before queueing since 0.1 (over 128 characters), put in the
    # store directly (as an outbox written by an older version holds it) so that the
    # service is the one to refuse it.
    queue = pac._summaries
    draft = normalize({"customerId": "x", "delta": 1}, default_reason="u", cadence_ms=0, now=0)
    queue.store.put(dataclasses.replace(draft, customer_id="x" * 200), queue.producer)
    pac.balance.queue_summary({"customerId": "ok", "delta": 1})
    result = await pac.balance.flush_summaries()
    assert result.accepted == 1 and result.failed == 1
    assert "customerId" in result.failures[0].error
    assert pac.balance.get_summary_queue_state().queued_count == 1


async def test_replays_are_counted(client_factory: Any) -> None:
    pac = client_factory()
    pac.balance.queue_summary({"customerId": "c", "delta": 1, "referenceId": "same"})
    await pac.balance.flush_summaries()
    pac.balance.queue_summary({"customerId": "c", "delta": 1, "referenceId": "same"})
    result = await pac.balance.flush_summaries()
    assert result.replayed == 1 and result.accepted == 1


async def test_pacing_and_cadence_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr("pacspace_async.summaries._flush.sleep", fake_sleep)
    ok = {"totalQueued": 1, "totalFailed": 0, "results": [{"index": 0, "status": "QUEUED"}]}
    with respx.mock(base_url=BASE) as router:
        route = router.post("/api/v1/balance/delta/batch")
        route.side_effect = [
            httpx.Response(
                429,
                json={
                    "error": {"code": "CADENCE_LIMIT", "message": "later", "retryAfterSeconds": 7}
                },
            ),
            httpx.Response(200, json=envelope(ok)),
            httpx.Response(200, json=envelope(ok)),
        ]
        async with PacSpace(
            KEY, base_url=BASE, submission={"maxRequestsPerMinute": 2, "maxDeltasPerRequest": 1}
        ) as pac:
            pac.balance.queue_summary({"customerId": "a", "delta": 1})
            pac.balance.queue_summary({"customerId": "b", "delta": 1})
            result = await pac.balance.flush_summaries()
            assert result.accepted == 2 and result.request_count == 3
        assert 7 in slept  # the cadence limit's retry-after
        assert sum(1 for s in slept if 25 < s <= 30) == 2  # paced at 2 a minute
        keys = [call.request.headers["idempotency-key"] for call in route.calls]
        assert keys[0] == keys[1] and keys[1] != keys[2]


@pytest.mark.parametrize(
    ("summary", "field"),
    [
        ({"customerId": "", "delta": 1}, "customerId"),
        ({"customerId": "c", "delta": 0}, "delta"),
        ({"customerId": "c", "delta": float("nan")}, "delta"),
        ({"customerId": "c", "delta": float("inf")}, "delta"),
        (
            {
                "customerId": "c",
                "delta": 1,
                "windowStart": "2026-05-02T00:00:00Z",
                "windowEnd": "2026-05-01T00:00:00Z",
            },
            "windowEnd",
        ),
        (
            {
                "customerId": "c",
                "delta": 1,
                "windowStart": "yesterday",
                "windowEnd": "2026-05-01T00:00:00Z",
            },
            "windowStart",
        ),
        ({"customerId": "c", "delta": 1, "windowStart": "2026-05-01T00:00:00Z"}, "windowEnd"),
        ({"customerId": "c", "delta": 1, "window": "1d"}, "window"),
    ],
)
def test_bad_summaries_are_refused_before_queueing(
    summary: dict[str, Any], field: str, tmp_path: Any
) -> None:
    outbox = str(tmp_path / "outbox.sqlite3")
    pac = PacSpace(KEY, base_url=BASE, submission={"outbox": outbox, "autoStart": False})
    with pytest.raises(ps.ValidationError) as caught:
        pac.balance.queue_summary(summary)
    assert caught.value.code == "INVALID_SUMMARY" and caught.value.field == field
    assert pac.balance.get_summary_queue_state().queued_count == 0


def test_profiles_are_gated_like_the_official_client() -> None:
    with pytest.raises(ps.ValidationError) as caught:
        PacSpace(KEY, base_url=BASE, submission={"profile": "sub_daily"})
    assert caught.value.code == "INVALID_SUBMISSION_PROFILE"
    with pytest.raises(ps.ValidationError):
        PacSpace(KEY, base_url=BASE, submission={"profle": "daily"})
    state = PacSpace(
        KEY, base_url=BASE, submission={"profile": "sub_daily", "enterprise": True}
    ).balance.get_summary_queue_state()
    assert state.cadence_ms == 21_600_000


async def test_immediate_profile_sends_at_once(
    client_factory: Any, pacspace_sandbox: Sandbox
) -> None:
    pac = client_factory(profile="immediate", enterprise=True)
    pac.balance.queue_summary({"customerId": "c", "delta": 3})
    for _ in range(100):
        if rows(pacspace_sandbox):
            break
        await asyncio.sleep(0.01)
    assert len(rows(pacspace_sandbox)) == 1


async def test_scheduler_flushes_on_its_cadence_and_stops(
    client_factory: Any, pacspace_sandbox: Sandbox
) -> None:
    pac = client_factory(cadenceMs=100)
    pac.balance.queue_summary({"customerId": "c", "delta": 3})
    state = pac.balance.get_summary_queue_state()
    assert state.is_running and state.next_flush_at
    for _ in range(100):
        if rows(pacspace_sandbox):
            break
        await asyncio.sleep(0.02)
    assert len(rows(pacspace_sandbox)) == 1
    pac.balance.stop_summary_scheduler()
    await asyncio.sleep(0)
    assert not pac.balance.get_summary_queue_state().is_running


async def test_close_flushes_what_is_queued(client_factory: Any, pacspace_sandbox: Sandbox) -> None:
    pac = client_factory(autoStart=False)
    pac.balance.queue_summary({"customerId": "c", "delta": 3})
    await pac.aclose()
    assert len(rows(pacspace_sandbox)) == 1


async def test_full_queue_raises_by_default_and_drops_only_loudly(client_factory: Any) -> None:
    pac = client_factory(maxQueued=2, autoStart=False)
    pac.balance.queue_summary({"customerId": "a", "delta": 1})
    pac.balance.queue_summary({"customerId": "b", "delta": 1})
    pac.balance.queue_summary({"customerId": "b", "delta": 2})  # a replacement takes no room
    with pytest.raises(QueueFullError):
        pac.balance.queue_summary({"customerId": "c", "delta": 1})
    dropped: list[dict[str, Any]] = []
    dropping = client_factory(maxQueued=1, onFull="drop", onDrop=dropped.append, autoStart=False)
    dropping.balance.queue_summary({"customerId": "a", "delta": 1})
    dropping.balance.queue_summary({"customerId": "b", "delta": 1})
    assert [d["customerId"] for d in dropped] == ["b"]
    assert dropping.balance.get_summary_queue_state().dropped == 1


async def test_full_queue_can_block_a_thread_until_a_flush_makes_room(client_factory: Any) -> None:
    pac = client_factory(maxQueued=1, onFull="block", blockTimeoutMs=5_000, autoStart=False)
    pac.balance.queue_summary({"customerId": "a", "delta": 1})
    done = threading.Event()

    def producer() -> None:
        pac.balance.queue_summary({"customerId": "b", "delta": 1})
        done.set()

    thread = threading.Thread(target=producer)
    thread.start()
    await asyncio.sleep(0.1)
    assert not done.is_set()
    await pac.balance.flush_summaries()
    await asyncio.to_thread(thread.join, 5)
    assert done.is_set() and pac.balance.get_summary_queue_state().queued_count == 1
