"""The sandbox's rules: recording, verification, derive, compare, checkpoints, receipts.

Verification is a function of time, not a background job: each delta is stored with the
moment it will be verified (``verify_at``, drawn at emit from the configured latency) and
its outcome (``VERIFIED``, or ``FAILED`` at the fail rate). A status read, a derive or a
checkpoint simply compares ``verify_at`` with the clock, so the sandbox is deterministic
under an injected clock and costs nothing while idle. Only webhook deliveries need a task.

Every method takes wire-shaped input and returns wire-shaped ``dict`` answers; every
failure is a :class:`LedgerError` raised before anything is written. The rules live here,
one mixin per area as in ``pacspace_async.resources.balance`` (``_deltas``, ``_derive``,
``_checkpoints``, ``_reports``, ``_accounts``, ``_idempotency``); the SQL lives in the
store (:mod:`.._store`), the reply shapes in :mod:`.._answers`.
"""

from __future__ import annotations

import random

from .._config import SandboxConfig
from .._store import LedgerStore
from .._webhooks import Deliveries
from ._accounts import Accounts
from ._checkpoints import Checkpoints
from ._deltas import MAX_BATCH, Deltas
from ._reports import Reports

__all__ = ["MAX_BATCH", "Ledger"]


class Ledger(Accounts, Deltas, Checkpoints, Reports):
    """The sandbox's Balance API behind the HTTP layer, over one :class:`LedgerStore`."""

    def __init__(self, config: SandboxConfig, store: LedgerStore | None = None) -> None:
        self.config = config
        self.store = store or LedgerStore(config.db)
        self.clock = config.clock
        self._rng = random.Random(config.seed)
        self.deliveries = Deliveries(self.store, config)
        now = self.clock()
        for key in config.api_keys:
            self.store.add_api_key(key, "configured", now)
        self._keys = self.store.api_keys()
