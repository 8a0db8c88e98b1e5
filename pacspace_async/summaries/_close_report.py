"""What a close tells about the usage: delivered, lost, kept in an outbox, waiting for a
drain, dead. Told as it is, and alarming only where something is at risk."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from decimal import Decimal

from .._errors import OutboxError
from ..types import CloseReport, FlushResult
from ._stores import Record, Stats, Store

__all__ = ["close_report"]

log = logging.getLogger("pacspace")


def close_report(
    store: Store,
    producer: str,
    gone: Sequence[Record],
    *,
    dead_made: bool,
    flushed: FlushResult | None,
    error: str | None,
) -> CloseReport:
    """The report of one producer's close, and its log lines: what is lost (WARNING),
    what of its own stays in an outbox (WARNING: it was not delivered), and what other
    producers left in a shared outbox for a drain (INFO: nothing is at risk).

    ``gone`` is usage the store never took (a meter's unjournaled rows, rows lost on
    the way): it dies with the process. ``dead_made``: this process made dead letters.
    """
    stats: Stats | None = None
    try:
        stats = store.stats(producer)
    except OutboxError as exc:
        error = error or str(exc)
    held = 0 if stats is None else stats.own_summaries + stats.own_usage
    if store.durable:
        lost, kept = len(gone), held
        total = sum((row.delta for row in gone), Decimal(0))
    else:
        lost, kept = held + len(gone), 0
        total = (stats.own_total if stats is not None else Decimal(0)) + sum(
            (row.delta for row in gone), Decimal(0)
        )
    waiting = stats.others if stats is not None and store.durable else 0
    dead = stats.dead if stats is not None else 0
    report = CloseReport(
        flushed=flushed,
        undelivered=lost + kept,
        lost=lost,
        waiting=waiting,
        dead_letters=dead,
        outbox=store.location,
        error=error,
    )
    suffix = f" ({error})" if error else ""
    if lost:
        where = "the outbox could not take them" if store.durable else "held in memory"
        advice = "" if store.durable else " Use submission={'outbox': ...} to keep them."
        log.warning(
            "pacspace: %d usage summaries (total %s) could not be delivered at close and "
            "are lost: %s%s.%s",
            lost,
            total,
            where,
            suffix,
            advice,
        )
    if kept or stats is None:
        log.warning(
            "pacspace: %s usage summaries of this process could not be delivered at "
            "close; they stay in the outbox %s and are sent by the next client or "
            "`pacspace drain` on it%s",
            kept if stats is not None else "some",
            store.location,
            suffix,
        )
    if waiting:
        log.info(
            "pacspace: %d usage rows of other producers are waiting for a drain in %s "
            "(nothing of this process's is among them)",
            waiting,
            store.location,
        )
    if dead:
        at_risk = dead_made or not store.durable
        log.log(
            logging.WARNING if at_risk else logging.INFO,
            "pacspace: %d summaries are in the dead letters%s",
            dead,
            " and are lost with this process"
            if not store.durable
            else f" of {store.location} (`pacspace outbox list`)",
        )
    return report
