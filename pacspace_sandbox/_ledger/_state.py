"""What every room of the ledger holds: the configuration, the store, the clock, the
random source and the webhook deliveries."""

from __future__ import annotations

import random
from collections.abc import Callable

from .._config import SandboxConfig
from .._store import LedgerStore
from .._webhooks import Deliveries

__all__ = ["LedgerState"]


class LedgerState:
    """The state the ledger's mixins share; each mixin holds the rules of one area."""

    config: SandboxConfig
    store: LedgerStore
    clock: Callable[[], float]
    deliveries: Deliveries
    _rng: random.Random
    _keys: set[str]
