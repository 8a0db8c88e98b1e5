"""``pac.balance``: record, wait, derive, compare, checkpoint, and read back.

One mixin per area of the API, each in its own module (a new endpoint lands in the room
of its area): ``_summaries`` (queue, flush, meters), ``_deltas`` (emit, wait, status),
``_derive`` (derive, compare), ``_checkpoints`` (checkpoints, receipts, invoice proofs),
``_reports`` (customers, usage, gaps, webhook deliveries). Each method declares its
parameters in its signature, passes them by name to its call's declaration
(``_params.Call``), validates everything before sending, makes one request through the
transport and returns a model. Retries, pauses and HTTP details live in the transport,
waiting in the waiter.
"""

from __future__ import annotations

from ..._transport import Transport
from ..._waiter import Waiter
from ...summaries import SummaryQueue
from .._receipts import Receipts
from ._checkpoints import Checkpoints
from ._deltas import Deltas, submit_batch
from ._derive import Derive
from ._reports import Reports
from ._summaries import Summaries

__all__ = ["Balance", "submit_batch"]


class Balance(Summaries, Deltas, Derive, Checkpoints, Reports):
    """The Balance API. Reached as ``pac.balance``."""

    receipts: Receipts

    def __init__(self, transport: Transport, waiter: Waiter, summaries: SummaryQueue) -> None:
        self._transport = transport
        self._waiter = waiter
        self._summaries = summaries
        self.receipts = Receipts(transport)
