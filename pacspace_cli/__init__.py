"""The ``pacspace`` command: ``pacspace sandbox``, ``pacspace demo``, ``pacspace webhooks trigger``.

Thin: parse arguments, then hand over to the sandbox or the demo.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pacspace", description="PacSpace SDK tools.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sandbox = commands.add_parser("sandbox", help="run a local PacSpace Balance API")
    sandbox.add_argument("--host", default="127.0.0.1", help="interface (default: loopback)")
    sandbox.add_argument("--port", type=int, default=8787)
    sandbox.add_argument(
        "--api-key",
        action="append",
        default=[],
        metavar="KEY",
        help="accept this key (repeatable; default: a new pk_test_ key)",
    )
    sandbox.add_argument("--verify-latency", type=float, default=1.0, metavar="SECONDS")
    sandbox.add_argument(
        "--latency-jitter",
        type=float,
        default=0.2,
        metavar="FRACTION",
        help="spread of the latency, as a fraction of it (default 0.2)",
    )
    sandbox.add_argument("--fail-rate", type=float, default=0.0, metavar="P")
    sandbox.add_argument(
        "--db", default=":memory:", metavar="PATH", help="SQLite file to persist to"
    )
    sandbox.add_argument("--webhook-url", metavar="URL")
    sandbox.add_argument("--webhook-secret", metavar="SECRET")
    sandbox.add_argument("--dashboard-user", action="append", default=[], metavar="EMAIL:PASSWORD")
    sandbox.add_argument("--rate-limit", type=float, metavar="PER_SECOND")
    sandbox.add_argument("--plan-limit", type=int, metavar="N", help="verified deltas a month")
    sandbox.add_argument("--seed", type=int, help="random seed (latency spread, failures)")

    hooks = commands.add_parser("webhooks", help="webhook tools")
    hook_commands = hooks.add_subparsers(dest="webhooks_command", required=True, metavar="COMMAND")
    send = hook_commands.add_parser("trigger", help="send a signed sample delivery")
    send.add_argument("event", help="delta.verified, delta.failed, checkpoint.verified, ...")
    send.add_argument("--to", required=True, metavar="URL")
    send.add_argument("--secret", required=True, metavar="SECRET")

    demo = commands.add_parser("demo", help="run the basic recordation flow")
    demo.add_argument(
        "--base-url", help="a real PacSpace (default: PACSPACE_API_BASE_URL, else in-process)"
    )
    demo.add_argument("--api-key", help="default: PACSPACE_API_KEY")
    demo.add_argument("--customer", default="customer_acme")
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
        from ._demo import demo

        return demo(args)
    except ModuleNotFoundError as exc:
        print(
            f"pacspace {args.command} needs the sandbox extra ({exc.name} is missing): "
            'pip install "pacspace[sandbox]"',
            file=sys.stderr,
        )
        return 2
