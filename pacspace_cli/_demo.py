"""``pacspace demo``: the basic recordation example of the product's documentation, start to finish.

Three daily usage flushes (100, 250, 150 units), wait for verification, derive (-500
across 3 verified deltas), compare both views, checkpoint, and show the receipt link. By
default it runs on an in-process sandbox: no key, no port, no network. With
``--base-url``/``--api-key`` (or ``PACSPACE_API_BASE_URL``/``PACSPACE_API_KEY``) the same
flow runs against a real PacSpace, for a customer id made unique to the run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import time
from decimal import Decimal

import httpx
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from pacspace_async import PacSpace, PacSpaceError

__all__ = ["demo"]

FLUSHES = (("2026-02-01", 100), ("2026-02-02", 250), ("2026-02-03", 150))
EXPECTED = Decimal(-500)


def demo(args: argparse.Namespace) -> int:
    console = Console(highlight=False, soft_wrap=True)
    try:
        return asyncio.run(_run(args, console))
    except PacSpaceError as exc:
        console.print(f"[red]failed:[/] {exc} ({exc.code})")
        return 1


async def _run(args: argparse.Namespace, console: Console) -> int:
    base_url = args.base_url or os.environ.get("PACSPACE_API_BASE_URL")
    api_key = args.api_key or os.environ.get("PACSPACE_API_KEY")
    sandbox = None
    customer = args.customer
    if base_url or api_key:
        client = PacSpace(api_key, base_url=base_url)
        customer = f"{customer}_{secrets.token_hex(3)}"
        where = client.base_url
    else:
        from pacspace_sandbox import IN_PROCESS_URL, Sandbox

        sandbox = Sandbox(verify_latency=1.0, seed=7)
        http = httpx.AsyncClient(transport=sandbox.transport())
        client = PacSpace(sandbox.api_key, base_url=IN_PROCESS_URL, http_client=http)
        where = "an in-process sandbox (no key, no network)"
    console.print(f"[bold]PacSpace basic recordation[/] on {where}\n")
    try:
        return await _flow(client, customer, console)
    finally:
        await client.aclose()
        if sandbox is not None:
            await sandbox.aclose()
            await http.aclose()


def _row(console: Console, step: str, text: str) -> None:
    console.print(f"  [cyan]{step:<11}[/]{text}")


async def _flow(pac: PacSpace, customer: str, console: Console) -> int:
    records = []
    for day, units in FLUSHES:
        delta = await pac.balance.emit(
            customer, -units, f"daily_usage_flush:{day}", {"referenceId": f"usage:{customer}:{day}"}
        )
        records.append(delta.record_id or "")
        _row(console, "flush", f"{day}  {units:>4} units  -> {delta.record_id}  {delta.status}")

    started = time.monotonic()
    with Progress(
        TextColumn("  [cyan]verify     [/]"),
        BarColumn(bar_width=24),
        TextColumn("{task.completed}/{task.total} verified"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("verify", total=len(records))

        async def one(record_id: str) -> str:
            status = await pac.balance.wait_for_verified(record_id, timeout=60)
            progress.advance(task)
            return status.status or "?"

        statuses = await asyncio.gather(*(one(r) for r in records))
    verified = sum(1 for s in statuses if s == "VERIFIED")
    _row(
        console,
        "verify",
        f"{verified}/{len(records)} verified in {time.monotonic() - started:.1f} s",
    )
    if verified != len(records):
        console.print("[red]not every delta was verified[/]")
        return 1

    balance = await pac.balance.derive(customer)
    count = balance.count
    _row(
        console,
        "derive",
        f"Balance for {customer}: {balance.computed_balance} across {count} verified deltas",
    )
    if balance.computed_balance != EXPECTED or count != len(FLUSHES):
        console.print(f"[red]expected {EXPECTED} across {len(FLUSHES)} deltas[/]")
        return 1

    report = await pac.balance.compare(
        customer,
        {"yours": balance.computed_balance or 0, "theirs": balance.computed_balance or 0},
        {"startingBalance": balance.starting_balance or 0},
    )
    if not report.agreed:
        discrepancy = report.discrepancy_report
        _row(console, "compare", f"Discrepancy of {discrepancy and discrepancy.amount}")
        return 1
    _row(console, "compare", f"Agreement confirmed: both sides agree on {report.neutral_balance}")

    checkpoint = await pac.balance.checkpoint(customer)
    _row(
        console,
        "checkpoint",
        f"proof root {checkpoint.proof_root}  ({checkpoint.delta_count} deltas)",
    )

    receipt = await pac.balance.receipt(customer)
    _row(console, "receipt", f"{receipt.verify_url}")
    console.print("\n[green]Period closes on the verified record.[/]")
    return 0
