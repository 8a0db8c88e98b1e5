"""Answers of the balance calls: deltas, statuses, derive, compare, checkpoints."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ._base import APIModel, CheckpointStatus, DeltaStatus

__all__ = [
    "BatchItemResult",
    "BatchResult",
    "Checkpoint",
    "CheckpointList",
    "CompareReport",
    "DerivedBalance",
    "DiscrepancyReport",
    "DiscrepancyWindow",
    "EmitResult",
    "RecordStatus",
]

TERMINAL_STATUSES = frozenset({"VERIFIED", "FAILED"})


class _Delta(APIModel):
    record_id: str
    status: DeltaStatus
    receipt_id: str | None = None
    customer_id: str | None = None
    delta: Decimal | None = None
    reason: str | None = None
    reference_id: str | None = None

    @property
    def is_terminal(self) -> bool:
        """``VERIFIED`` or ``FAILED``: nothing more will happen to this delta."""
        return self.status in TERMINAL_STATUSES


class EmitResult(_Delta):
    """What ``emit`` answers at once; verification happens later."""

    idempotent: bool | None = None
    created_at: str | None = None


class RecordStatus(_Delta):
    """The status of one recorded delta."""

    created_at: str | None = None
    verified_at: str | None = None
    failed_at: str | None = None
    error: str | None = None
    sequence_number: int | None = None
    proof_hash: str | None = None


class BatchItemResult(APIModel):
    index: int
    status: DeltaStatus
    idempotent: bool | None = None
    error: str | None = None
    record_id: str | None = None
    receipt_id: str | None = None
    reference_id: str | None = None


class BatchResult(APIModel):
    total_queued: int = 0
    total_failed: int = 0
    results: list[BatchItemResult] = []


class Checkpoint(APIModel):
    checkpoint_id: str | None = None
    customer_id: str | None = None
    proof_root: str | None = None
    delta_count: int | None = None
    status: CheckpointStatus | None = None
    computed_balance: Decimal | None = None
    period: str | None = None
    window_start: str | None = None
    window_end: str | None = None
    created_at: str | None = None
    verified_at: str | None = None


class DerivedBalance(APIModel):
    computed_balance: Decimal
    customer_id: str | None = None
    starting_balance: Decimal | None = None
    delta_count: int | None = None
    deltas_count: int | None = None
    latest_checkpoint: Checkpoint | None = None
    scope: dict[str, Any] | None = None
    has_more: bool | None = None

    @property
    def count(self) -> int | None:
        """The number of deltas summed, whichever spelling the server used."""
        return self.delta_count if self.delta_count is not None else self.deltas_count


class DiscrepancyWindow(APIModel):
    """One window (a day) of the neutral record, to find where two ledgers part."""

    window_start: str | None = None
    window_end: str | None = None
    delta_count: int | None = None
    net_delta: Decimal | None = None
    running_balance: Decimal | None = None


class DiscrepancyReport(APIModel):
    amount: Decimal | None = None
    divergent_party: str | None = None
    recommendation: str | None = None
    windows: list[DiscrepancyWindow] = []


class CompareReport(APIModel):
    neutral_balance: Decimal
    matches_yours: bool
    matches_theirs: bool
    customer_id: str | None = None
    your_balance: Decimal | None = None
    their_balance: Decimal | None = None
    discrepancy_report: DiscrepancyReport | None = None

    @property
    def agreed(self) -> bool:
        """Both views match the neutral balance."""
        return bool(self.matches_yours and self.matches_theirs)


class CheckpointList(APIModel):
    checkpoints: list[Checkpoint] = []
    total: int | None = None
    limit: int | None = None
    offset: int | None = None
