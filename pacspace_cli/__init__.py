"""The ``pacspace`` command: ``sandbox``, ``demo``, ``import``, ``webhooks trigger``,
``drain``, ``outbox``.

Thin: parse arguments, then hand over to the sandbox or the demo.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from pacspace_async import PacSpaceError

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pacspace", description="PacSpace SDK tools.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sandbox = commands.add_parser("sandbox", help="run a local PacSpace Balance API")
    sandbox.add_argument("--host", default="127.0.0.1", help="interface (default: loopback)")
    sandbox.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME",
        help="another Host name to answer (repeatable); besides it only 127.0.0.1, "
        "localhost, ::1 and --host are answered, others get 421 (DNS rebinding)",
    )
    sandbox.add_argument("--port", type=int, default=8787, help="port to listen on")
    sandbox.add_argument(
        "--api-key",
        action="append",
        default=[],
        metavar="KEY",
        help="accept this key (repeatable; default: a new pk_test_ key)",
    )
    sandbox.add_argument(
        "--verify-latency",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="mean seconds from emit to verification",
    )
    sandbox.add_argument(
        "--latency-jitter",
        type=float,
        default=0.2,
        metavar="FRACTION",
        help="spread of the latency, as a fraction of it (default 0.2)",
    )
    sandbox.add_argument(
        "--fail-rate",
        type=float,
        default=0.0,
        metavar="P",
        help="share of deltas that end FAILED (0 to 1)",
    )
    sandbox.add_argument(
        "--db", default=":memory:", metavar="PATH", help="SQLite file to persist to"
    )
    sandbox.add_argument("--webhook-url", metavar="URL", help="send signed deliveries here")
    sandbox.add_argument(
        "--webhook-secret", metavar="SECRET", help="sign deliveries with it (with --webhook-url)"
    )
    sandbox.add_argument(
        "--dashboard-user",
        action="append",
        default=[],
        metavar="EMAIL:PASSWORD",
        help="who may log in to the dashboard and inspector (repeatable; default: the "
        "quick start's you@example.com, on loopback only)",
    )
    sandbox.add_argument(
        "--rate-limit",
        type=float,
        metavar="PER_SECOND",
        help="requests per second per key before 429 (default: unlimited)",
    )
    sandbox.add_argument(
        "--plan-limit",
        type=int,
        metavar="N",
        help="verified deltas a month (the Free plan is 100; default: unlimited)",
    )
    sandbox.add_argument("--seed", type=int, help="random seed (latency spread, failures)")
    sandbox.add_argument(
        "--open", action="store_true", help="open the inspector in a browser once serving"
    )

    hooks = commands.add_parser("webhooks", help="webhook tools")
    hook_commands = hooks.add_subparsers(dest="webhooks_command", required=True, metavar="COMMAND")
    send = hook_commands.add_parser("trigger", help="send a signed sample delivery")
    send.add_argument("event", help="delta.verified, delta.failed, checkpoint.verified, ...")
    send.add_argument("--to", required=True, metavar="URL", help="the receiving endpoint")
    send.add_argument("--secret", required=True, metavar="SECRET", help="the webhook secret")

    def outbox_arguments(command: argparse.ArgumentParser, key: bool = True) -> None:
        command.add_argument(
            "--outbox", required=True, metavar="URL", help="a postgresql:// URL or a SQLite path"
        )
        if key:
            command.add_argument("--api-key", help="default: PACSPACE_API_KEY")
            command.add_argument("--base-url", help="default: PACSPACE_API_BASE_URL, else by key")

    drain = commands.add_parser(
        "drain",
        help="send a summary outbox's sealed usage",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Seal the whole fleet's ended windows and send one summary per customer, "
        "reason and window, in batches of 100, paced by the service: as fast as its "
        "X-RateLimit headers allow (a tenth of the limit left unused), 10 requests a "
        "minute when it sends none; a 429 or CADENCE_LIMIT waits as long as it asks.",
    )
    outbox_arguments(drain)
    drain.add_argument("--once", action="store_true", help="drain what is sealed, then exit")
    drain.add_argument(
        "--interval",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="seconds between rounds while running",
    )
    drain.add_argument(
        "--max-requests-per-minute",
        type=int,
        default=None,
        metavar="N",
        help="a cap on the pace (default: none; the service's headers set it, else 10)",
    )

    box = commands.add_parser("outbox", help="summary outbox tools")
    box_commands = box.add_subparsers(dest="outbox_command", required=True, metavar="COMMAND")
    init = box_commands.add_parser("init", help="create a PostgreSQL outbox's tables")
    outbox_arguments(init, key=False)
    init.add_argument("--sql", action="store_true", help="print the SQL instead")
    listing = box_commands.add_parser(
        "list",
        help="show what the outbox holds, by state (read only)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    outbox_arguments(listing)
    listing.add_argument("--limit", type=int, default=100, help="dead letters shown")
    retry = box_commands.add_parser("retry", help="move dead letters back to the queue")
    outbox_arguments(retry)
    retry.add_argument("--id", type=int, action="append", metavar="N", help="default: all")

    backfill = commands.add_parser(
        "import",
        help="emit every line of a .csv or .jsonl file",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Record every line of the file once: after any sequence of runs (lines "
        "fixed, inserted, deleted, reordered) the service holds what the file says, or the "
        "run refuses before sending anything and names the lines. Progress is kept beside "
        "the file (FILE.pacspace-import.sqlite3).",
    )
    backfill.add_argument("file", type=Path, help="a .csv or .jsonl (.ndjson) file")
    backfill.add_argument("--api-key", help="default: PACSPACE_API_KEY")
    backfill.add_argument("--base-url", help="default: PACSPACE_API_BASE_URL, else by key")
    backfill.add_argument(
        "--dry-run", action="store_true", help="check every line and the progress, send none"
    )
    backfill.add_argument(
        "--reconcile",
        action="store_true",
        help="reverse lines recorded before that the file no longer holds, then record the "
        "new ones (without it, such lines stop the run)",
    )
    backfill.add_argument(
        "--restart", action="store_true", help="forget the progress kept beside the file"
    )
    backfill.add_argument("--wait", action="store_true", help="wait for each delta's verification")
    backfill.add_argument(
        "--concurrency", type=int, default=16, metavar="N", help="emits in flight at once"
    )
    backfill.add_argument(
        "--max-line-bytes",
        type=int,
        default=1 << 20,
        metavar="N",
        help="a longer line is named as bad, never read whole",
    )
    backfill.add_argument(
        "--import-id",
        help="what derived referenceIds hang on (default: the file's name)",
    )

    demo = commands.add_parser("demo", help="run the basic recordation flow")
    demo.add_argument(
        "--base-url", help="a real PacSpace (default: PACSPACE_API_BASE_URL, else in-process)"
    )
    demo.add_argument("--api-key", help="default: PACSPACE_API_KEY")
    demo.add_argument("--customer", default="customer_acme", help="the demo's customer id")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "sandbox":
            from ._serve import serve

            return serve(args)
        if args.command == "webhooks":
            from ._webhooks import trigger

            return trigger(args)
        if args.command == "import":
            from ._import import run

            return run(args)
        if args.command in ("drain", "outbox"):
            from . import _outbox

            return _outbox.drain(args) if args.command == "drain" else _outbox.outbox(args)
        from ._demo import demo

        return demo(args)
    except PacSpaceError as exc:
        print(f"pacspace {args.command}: {exc}", file=sys.stderr)
        return 1
    except ModuleNotFoundError as exc:
        if args.command in ("drain", "outbox"):
            print(
                f"pacspace {args.command} needs the postgres extra for a PostgreSQL outbox "
                f'({exc.name} is missing): pip install "pacspace[postgres]"',
                file=sys.stderr,
            )
            return 2
        print(
            f"pacspace {args.command} needs the sandbox extra ({exc.name} is missing): "
            'pip install "pacspace[sandbox]"',
            file=sys.stderr,
        )
        return 2
