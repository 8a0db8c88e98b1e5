"""What every room of ``pac.balance`` holds: the transport, the waiter, the summary queue."""

from __future__ import annotations

from ... import _params as spec
from ..._transport import Transport
from ..._waiter import Waiter
from ...summaries import SummaryQueue

__all__ = ["PLAIN", "Room"]

PLAIN = spec.Call()
"""A call that takes only the request settings."""


class Room:
    """The state the mixins of :class:`~pacspace_async.resources.Balance` share; each
    mixin adds the methods of one area of the API and nothing else."""

    _transport: Transport
    _waiter: Waiter
    _summaries: SummaryQueue
