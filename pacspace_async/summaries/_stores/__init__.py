"""Where summaries and usage wait: in memory, in a SQLite file, or in PostgreSQL."""

from ._base import OPEN, Claim, Record, Refused, Stats, Store
from ._memory import MemoryStore
from ._open import is_postgres, open_store, postgres_schema, prepare_postgres_outbox

__all__ = [
    "OPEN",
    "Claim",
    "MemoryStore",
    "Record",
    "Refused",
    "Stats",
    "Store",
    "is_postgres",
    "open_store",
    "postgres_schema",
    "prepare_postgres_outbox",
]
