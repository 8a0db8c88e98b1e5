"""Client-side summaries: the queue, its durable outbox, and the in-process meter."""

from ._meter import Meter
from ._queue import QueueFullError, SubmissionOptions, SummaryQueue

__all__ = ["Meter", "QueueFullError", "SubmissionOptions", "SummaryQueue"]
