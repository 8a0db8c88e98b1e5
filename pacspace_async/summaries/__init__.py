"""Client-side summaries: the queue, the meter, and the stores they keep usage in."""

from ._flush import Submit
from ._identity import after_fork, owner_of
from ._meter import Meter
from ._per_process import PerProcess, process_lock
from ._queue import QueueFullError, SummaryQueue
from ._settings import SubmissionOptions
from ._stores import is_postgres, postgres_schema, prepare_postgres_outbox

__all__ = [
    "Meter",
    "PerProcess",
    "QueueFullError",
    "SubmissionOptions",
    "Submit",
    "SummaryQueue",
    "after_fork",
    "is_postgres",
    "owner_of",
    "postgres_schema",
    "prepare_postgres_outbox",
    "process_lock",
]
