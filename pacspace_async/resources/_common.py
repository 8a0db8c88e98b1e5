"""What every resource shares: the option names each call accepts."""

from __future__ import annotations

from typing_extensions import TypedDict

from .._options import REQUEST_KEYS
from .._scope import SCOPE_KEYS

__all__ = ["REQUEST_KEYS", "SCOPE_KEYS", "WaitOverrides", "keys"]


class WaitOverrides(TypedDict, total=False):
    """Per-call request overrides for the emit inside ``emit_and_wait``."""

    max_retries: int
    idempotency_key: str
    extra_headers: dict[str, str]
    chain_id: int
    credit_pool_id: int


def keys(*names: str, scope: bool = False) -> frozenset[str]:
    """The snake_case option names a call accepts: its own, plus the request settings."""
    base = frozenset(names) | REQUEST_KEYS
    return base | SCOPE_KEYS if scope else base
