"""What a driver's failure means for the caller, the same for every driver: told by the
error's SQLSTATE (psycopg, asyncpg and what wraps them all carry it) or, without one, by
whether the connection itself failed."""

from __future__ import annotations

from collections.abc import Iterator

from ..._errors import OutboxError

__all__ = ["outbox_error", "sqlstate"]

_IN_FAILED_TRANSACTION = "25P02"
_UNDEFINED_TABLE = "42P01"
_INSUFFICIENT_PRIVILEGE = "42501"
_BROKEN = ("Interface", "Operational", "ConnectionDoesNotExist", "ConnectionFailure", "Closed")


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what it wraps, a few levels deep: an ORM's error, its driver adapter's,
    the driver's own (``orig`` where the ORM keeps it, else ``__cause__``)."""
    seen: BaseException | None = exc
    for _ in range(4):
        if seen is None:
            return
        yield seen
        seen = getattr(seen, "orig", None) or seen.__cause__


def sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of ``exc`` or of what it wraps."""
    for seen in _chain(exc):
        for name in ("sqlstate", "pgcode"):
            code = getattr(seen, name, None)
            if isinstance(code, str) and len(code) == 5:
                return code
    return None


def _broken(exc: BaseException) -> bool:
    return any(word in type(seen).__name__ for seen in _chain(exc) for word in _BROKEN)


def outbox_error(exc: BaseException, location: str | None, *, failed: bool = False) -> OutboxError:
    """The SDK's error for a driver's failure, saying what the caller should do.
    ``failed``: the driver (or the ORM) says the transaction is already failed."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    code = sqlstate(exc)
    if failed or code == _IN_FAILED_TRANSACTION:
        what = (
            "the transaction is already failed (an earlier statement in it failed): "
            "roll back first, then record again in a new transaction"
        )
    elif code == _UNDEFINED_TABLE:
        what = (
            f"the outbox's tables are missing on this connection's database ({first}): "
            "record on a connection to the outbox's database, or run `pacspace outbox init`"
        )
    elif code == _INSUFFICIENT_PRIVILEGE:
        what = f"this role may not write the outbox's tables ({first}): grant it INSERT"
    elif code is None and _broken(exc):
        what = (
            f"the connection is closed or broken ({first}): nothing was recorded; "
            "open a new connection and record in a new transaction"
        )
    else:
        what = f"the database refused the usage row ({first}): the transaction is now failed"
    return OutboxError(f"meter.record: {what}.", location)
