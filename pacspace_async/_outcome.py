"""How one wait ends: its outcome, set once by the status-check scheduler, and the errors
it ends with when no answer can be had."""

from __future__ import annotations

import anyio

from ._errors import PacSpaceError
from .types import RecordStatus

__all__ = ["DeadlinePassed", "Outcome", "check_failed"]


class Outcome:
    """One wait's result, set once by the watcher (a status, or an exception to raise)."""

    __slots__ = ("_error", "_event", "_status")

    def __init__(self) -> None:
        self._event = anyio.Event()
        self._status: RecordStatus | None = None
        self._error: BaseException | None = None

    def done(self) -> bool:
        return self._event.is_set()

    def set_result(self, status: RecordStatus) -> None:
        if not self._event.is_set():
            self._status = status
            self._event.set()

    def set_exception(self, exc: BaseException) -> None:
        if not self._event.is_set():
            self._error = exc
            self._event.set()

    async def get(self) -> RecordStatus:
        await self._event.wait()
        if self._error is not None:
            raise self._error
        assert self._status is not None
        return self._status


class DeadlinePassed(Exception):
    """A wait's deadline, set on its outcome by the watcher (raised as TimeoutError)."""


def check_failed(what: str, exc: Exception) -> PacSpaceError:
    """A bug or an unexpected answer, as the error the waits end with at once (not at
    their timeouts), chained to its cause."""
    error = PacSpaceError(f"{what} failed ({type(exc).__name__}: {exc})", 0, "STATUS_CHECK_FAILED")
    error.__cause__ = exc
    return error
