"""Where summaries and usage wait: in memory, in a SQLite file, or in PostgreSQL."""

from ._base import Claim, Record, Refused, Stats, Store
from ._memory import MemoryStore
from ._open import open_store

__all__ = ["Claim", "MemoryStore", "Record", "Refused", "Stats", "Store", "open_store"]
