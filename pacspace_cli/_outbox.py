"""``pacspace drain`` and ``pacspace outbox``: operate a summary outbox from a shell.

``drain`` is what a fleet runs beside its pods (one or many replicas, any of which may be
killed at any time): it seals ended windows of the whole fleet's usage, sends one summary
per customer, reason and window, and repeats; ``--once`` drains what is sealed and exits.
``outbox init`` creates a PostgreSQL outbox's tables (``--sql`` prints them instead);
``outbox list`` shows what the outbox holds by state and changes nothing; ``outbox retry``
resends the dead letters. Only ``drain`` and ``retry`` write.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import signal
import sys

from pacspace_async import PacSpace, PacSpaceError
from pacspace_async.types import QueueState

__all__ = ["drain", "outbox"]


def _client(args: argparse.Namespace, **submission: object) -> PacSpace:
    return PacSpace(
        args.api_key or os.environ.get("PACSPACE_API_KEY"),
        base_url=args.base_url,
        submission={
            "outbox": args.outbox,
            "autoStart": False,
            "autoFlushOnShutdown": False,
            **submission,
        },
    )


def drain(args: argparse.Namespace) -> int:
    return asyncio.run(_drain(args))


async def _drain(args: argparse.Namespace) -> int:
    cap = args.max_requests_per_minute
    pac = _client(args, **({} if cap is None else {"maxRequestsPerMinute": cap}))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    status = 0
    try:
        while not stop.is_set():
            try:
                result = await pac.balance.flush_summaries()
            except PacSpaceError as exc:
                print(f"pacspace drain: {exc}", file=sys.stderr, flush=True)
                status = 1
            else:
                status = 1 if result.failed else 0
                if result.attempted or args.once:
                    print(
                        f"sent {result.accepted} summaries ({result.replayed} replayed, "
                        f"{result.failed} failed, {result.dead_lettered} to dead letters) in "
                        f"{result.request_count} requests; {result.queued_after_flush} wait",
                        flush=True,
                    )
            if args.once:
                break
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), args.interval)
    finally:
        await pac.aclose()
    return status


def outbox(args: argparse.Namespace) -> int:
    if args.outbox_command == "init":
        return _init(args)
    if not (is_postgres(args.outbox) or os.path.isfile(args.outbox)):
        # Listing or retrying must not create an outbox where there was none.
        print(f"pacspace outbox {args.outbox_command}: no outbox at {args.outbox}", file=sys.stderr)
        return 2
    return asyncio.run(_dead_letters(args))


def is_postgres(outbox: str) -> bool:
    return outbox.startswith(("postgresql://", "postgres://"))


def _init(args: argparse.Namespace) -> int:
    if not is_postgres(args.outbox):
        print("pacspace outbox init: --outbox must be a postgresql:// URL", file=sys.stderr)
        return 2
    from pacspace_async.summaries import postgres_schema, prepare_postgres_outbox

    if args.sql:
        print(postgres_schema(), end="")
        return 0
    location = prepare_postgres_outbox(args.outbox)
    print(f"pacspace outbox tables are ready in {location}")
    return 0


async def _dead_letters(args: argparse.Namespace) -> int:
    pac = _client(args)
    try:
        if args.outbox_command == "retry":
            moved = await pac.balance.retry_dead_letters(args.id or None)
            print(f"{moved} dead letters moved back to the queue")
            return 0
        # Read only: a client without meters journals, seals and sends nothing at close.
        state = pac.balance.get_summary_queue_state()
        letters = await pac.balance.list_dead_letters(limit=args.limit)
        for line in _listing(state):
            print(line)
        for letter in letters:
            print(
                f"  #{letter.id} {letter.customer_id} {letter.reason} {letter.window_start}.."
                f"{letter.window_end} {letter.delta} ({letter.attempts} attempts): "
                f"{letter.last_error}"
            )
        return 0
    finally:
        await pac.aclose()


def _listing(state: QueueState) -> list[str]:
    """The outbox by state, with the oldest item's age and the time to send the backlog."""
    backlog = state.open_count + state.pending_count
    requests = math.ceil(backlog / state.max_deltas_per_request) if backlog else 0
    pace = state.requests_per_minute
    how = (
        "as the service's rate-limit headers allow"
        if state.paced_by_service
        else (
            "the default without rate-limit headers; a service that sends them is drained "
            "as fast as they allow"
        )
    )
    return [
        f"{state.outbox}: {state.queued_count} queued, {state.dead_letters} dead letters"
        " (this key and base URL)",
        f"  journaled usage, not sealed yet: {state.usage_rows} rows"
        + _oldest(state.oldest_usage_seconds, "window ended"),
        f"  summaries queued (open): {state.open_count}",
        f"  summaries sealed, waiting to be sent: {state.pending_count}"
        f" ({state.sending_count} being sent now)" + _oldest(state.oldest_summary_seconds),
        f"  dead letters: {state.dead_letters}" + _oldest(state.oldest_dead_seconds),
        f"  backlog: {backlog} summaries in {requests} requests; at {pace:,.0f} requests a "
        f"minute ({how}), about {_duration(requests / pace * 60 if requests else 0)}",
    ]


def _oldest(seconds: float | None, what: str = "queued") -> str:
    return "" if seconds is None else f"; oldest {what} {_duration(seconds)} ago"


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
