"""``pacspace drain`` and ``pacspace outbox``: operate a summary outbox from a shell.

``drain`` is what a fleet runs beside its pods (one or many replicas, any of which may be
killed at any time): it seals ended windows of the whole fleet's usage, sends one summary
per customer, reason and window, and repeats; ``--once`` drains what is sealed and exits.
``outbox init`` creates a PostgreSQL outbox's tables (``--sql`` prints them instead);
``outbox list`` and ``outbox retry`` show and resend the dead letters.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys

from pacspace_async import PacSpace, PacSpaceError

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
    pac = _client(args, maxRequestsPerMinute=args.max_requests_per_minute)
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
    return asyncio.run(_dead_letters(args))


def _init(args: argparse.Namespace) -> int:
    if not args.outbox.startswith(("postgresql://", "postgres://")):
        print("pacspace outbox init: --outbox must be a postgresql:// URL", file=sys.stderr)
        return 2
    from pacspace_async.summaries._stores._postgres import SCHEMA, PostgresStore

    if args.sql:
        print(SCHEMA, end="")
        return 0
    store = PostgresStore(args.outbox, owner="")
    try:
        store.ensure_ready()
    finally:
        store.close()
    print(f"pacspace outbox tables are ready in {store.location}")
    return 0


async def _dead_letters(args: argparse.Namespace) -> int:
    pac = _client(args)
    try:
        if args.outbox_command == "retry":
            moved = await pac.balance.retry_dead_letters(args.id or None)
            print(f"{moved} dead letters moved back to the queue")
            return 0
        letters = await pac.balance.list_dead_letters(limit=args.limit)
        state = pac.balance.get_summary_queue_state()
        print(
            f"{state.outbox}: {state.queued_count} queued, {state.dead_letters} dead letters"
            " (this key and base URL)"
        )
        for letter in letters:
            print(
                f"  #{letter.id} {letter.customer_id} {letter.reason} {letter.window_start}.."
                f"{letter.window_end} {letter.delta} ({letter.attempts} attempts): "
                f"{letter.last_error}"
            )
        return 0
    finally:
        await pac.aclose()
