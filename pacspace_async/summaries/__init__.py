"""Client-side summaries: the queue, the meter, and the stores they keep usage in."""

from ._identity import after_fork
from ._meter import Meter
from ._queue import QueueFullError, SummaryQueue
from ._settings import SubmissionOptions

__all__ = ["Meter", "QueueFullError", "SubmissionOptions", "SummaryQueue", "after_fork"]
