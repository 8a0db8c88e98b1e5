"""Who made a summary, and the ``referenceId`` that names it.

The service records one delta per ``referenceId``: two summaries with the same id are one
summary to it. So an id must name the *aggregate*, never its value. Every id the SDK
derives hashes:

* the **scope**: whoever aggregated the usage. An in-memory store is its own scope (a new
  one in a forked child, which starts empty); an outbox file or a PostgreSQL store is one
  scope shared by every process on it;
* the customer, the **reason**, the window;
* the **slice**: the number the scope gave this aggregate when it was sealed (a row id in
  an outbox). Usage that arrives for a window already sealed becomes a new slice.

A second producer, reason or slice therefore never collides with the first, and a replay
of one slice (a retry, a crash, a restart) reuses its id, stored with it, and is recorded
once. A caller's own ``referenceId`` is used as given.

Rows in a shared store also carry their **owner**, a fingerprint of the API key and the
base URL, so a client only ever sends its own usage.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import threading
import weakref
from typing import Protocol

__all__ = [
    "after_fork",
    "hold_across_fork",
    "new_token",
    "owner_of",
    "reference_id",
    "summary_key",
]


def new_token() -> str:
    """A random token naming a scope or a producer (64 bits: collisions are not a worry)."""
    return secrets.token_hex(8)


def owner_of(api_key: str, base_url: str) -> str:
    """The owner of stored usage: enough to tell clients apart, nothing that reveals a key."""
    digest = hashlib.sha256(f"pacspace-owner\n{api_key}\n{base_url}".encode()).hexdigest()
    return digest[:24]


def reference_id(
    scope: str, customer_id: str, reason: str, window_start: str, window_end: str, slice_: int
) -> str:
    """``sum_`` + 48 hex digits naming one slice of one aggregate (never its amount)."""
    canonical = json.dumps(
        [scope, customer_id, reason, window_start, window_end, slice_],
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return "sum_" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:48]


def summary_key(customer_id: str, reason: str, window_start: str, window_end: str) -> str:
    """The readable key of an aggregate: customer, reason and window (``|``-separated)."""
    return f"{customer_id}|{reason}|{window_start}|{window_end}"


class _ForkAware(Protocol):
    def _after_fork_in_child(self) -> None: ...


_FORK_AWARE: weakref.WeakSet[_ForkAware] = weakref.WeakSet()


def after_fork(obj: _ForkAware) -> None:
    """Call ``obj._after_fork_in_child()`` in every child forked from now on.

    Meters, in-memory stores and the queue use it to start the child empty, under new
    scope and producer tokens: what the parent aggregated stays the parent's to send.
    """
    _FORK_AWARE.add(obj)


class _Held(Protocol):
    @property
    def fork_lock(self) -> threading.Lock: ...


_HELD: weakref.WeakSet[_Held] = weakref.WeakSet()
_holding: list[threading.Lock] = []


def hold_across_fork(obj: _Held) -> None:
    """Fork only while nobody holds ``obj.fork_lock``: a fork waits for the transaction
    under way to finish, so a child never inherits one half done (SQLite would then
    answer every new connection of the child "database is locked", for ever)."""
    _HELD.add(obj)


def _before() -> None:
    for obj in list(_HELD):
        lock = obj.fork_lock
        lock.acquire()
        _holding.append(lock)


def _in_parent() -> None:
    while _holding:
        _holding.pop().release()


def _in_child() -> None:
    _holding.clear()  # the child's objects get new locks below
    for obj in list(_FORK_AWARE):
        obj._after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_before, after_in_parent=_in_parent, after_in_child=_in_child)
