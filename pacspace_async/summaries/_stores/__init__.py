"""Where summaries and usage wait: in memory, in a SQLite file, or in PostgreSQL."""

from ._base import Claim, Draft, Store, Stored, Usage
from ._memory import MemoryStore
from ._open import open_store

__all__ = ["Claim", "Draft", "MemoryStore", "Store", "Stored", "Usage", "open_store"]
