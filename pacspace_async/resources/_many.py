"""Many emits at once: bounded concurrency, results in input order, flat memory.

``emit_stream`` pulls items lazily from any iterable (or async iterable) and keeps at
most ``concurrency`` requests in flight and at most ``2 × concurrency`` results waiting
to be yielded, so a million items stream through in constant memory. Each item is one
``emit`` call, with its own idempotency key kept across its retries. With
``return_exceptions=True`` (the default) a failing item yields its exception and never
disturbs the others; with ``False`` the first failure in input order is raised and the
requests still in flight are cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
    Sized,
)
from typing import Any

from .._errors import PacSpaceError, ValidationError
from ..types import EmitResult
from ._delta import ITEM_NAMES

__all__ = ["EmitItem", "EmitOutcome", "Progress", "stream"]

EmitItem = Mapping[str, Any]
"""``customerId``/``delta``/``reason`` (+ ``referenceId``, ``metadata``, ``adjusts``,
``idempotencyKey``) as in the product's documentation, or the same in snake_case."""
EmitOutcome = EmitResult | PacSpaceError
Progress = Callable[[int, EmitOutcome], object]
"""``progress(index, outcome)``: called once per item, in input order, as it completes."""

_FIELDS = frozenset(ITEM_NAMES.values())


def item_arguments(item: Any) -> dict[str, Any]:
    """One item as ``emit`` keyword arguments, or a ValidationError naming the field."""
    if not isinstance(item, Mapping):
        raise ValidationError(f"each item must be a dict, not {type(item).__name__}", field="item")
    arguments: dict[str, Any] = {
        ITEM_NAMES.get(str(key), str(key)): value for key, value in item.items()
    }
    unknown = set(arguments) - _FIELDS
    if unknown:
        raise ValidationError(
            f"unknown item field {sorted(unknown)[0]!r}", field=sorted(unknown)[0]
        )
    for required in ("customer_id", "delta", "reason"):
        if required not in arguments:
            raise ValidationError(f"each item needs {required}", field=required)
    return arguments


def _reference_of(item: Any) -> str | None:
    if not isinstance(item, Mapping):
        return None
    value = item.get("referenceId", item.get("reference_id"))
    return value if isinstance(value, str) else None


async def stream(
    emit: Callable[..., Awaitable[EmitResult]],
    items: Iterable[EmitItem] | AsyncIterable[EmitItem],
    *,
    concurrency: int,
    return_exceptions: bool,
    progress: Progress | None = None,
) -> AsyncIterator[EmitOutcome]:
    """``concurrency`` workers pull items and emit them; results are yielded in input
    order. No task or semaphore per item: a worker that finishes one takes the next, and
    may run at most ``2 × concurrency`` items ahead of the oldest not yet yielded."""
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ValidationError("concurrency must be an integer >= 1", field="concurrency")
    flow = _Flow(items, 2 * concurrency)

    async def one(index: int, item: Any) -> EmitResult:
        try:
            arguments = item_arguments(item)
            return await emit(
                arguments.pop("customer_id"),
                arguments.pop("delta"),
                arguments.pop("reason"),
                **arguments,
            )
        except PacSpaceError as exc:
            exc._for_item(index, _reference_of(item))
            raise

    async def worker() -> None:
        while (pulled := await flow.pull()) is not None:
            index, item = pulled
            try:
                flow.deliver(index, await one(index, item))
            except Exception as exc:  # PacSpaceError, or a bug surfacing in input order
                flow.deliver(index, exc)

    workers = [asyncio.ensure_future(worker()) for _ in range(flow.workers_for(concurrency))]
    try:
        while True:
            outcome = await flow.next_outcome()
            if outcome is _END:
                return
            if isinstance(outcome, PacSpaceError):
                if progress is not None:
                    progress(flow.yielded - 1, outcome)
                if not return_exceptions:
                    raise outcome
            elif isinstance(outcome, BaseException):
                raise outcome
            elif progress is not None:
                progress(flow.yielded - 1, outcome)
            yield outcome
    finally:
        for task in workers:
            task.cancel()
        for task in workers:
            with contextlib.suppress(BaseException):
                await task


_END: Any = object()


class _Flow:
    """The items' way through ``stream``: pulled in order by the workers, their outcomes
    handed back in order to the consumer, with at most ``window`` outstanding."""

    def __init__(self, items: Iterable[Any] | AsyncIterable[Any], window: int) -> None:
        self._source: Any
        if isinstance(items, AsyncIterable):
            self._async, self._source = True, items.__aiter__()
        else:
            self._async, self._source = False, iter(items)
        self._size = len(items) if isinstance(items, Sized) else None
        self._window = window
        self._lock = asyncio.Lock()  # an async source is pulled by one worker at a time
        self._outcomes: dict[int, Any] = {}
        self._ready = asyncio.Event()
        self._room = asyncio.Event()
        self._failure: BaseException | None = None
        self.pulled = 0
        self.yielded = 0
        self.exhausted = False

    def workers_for(self, concurrency: int) -> int:
        return concurrency if self._size is None else max(1, min(concurrency, self._size))

    async def pull(self) -> tuple[int, Any] | None:
        while not self.exhausted and self.pulled - self.yielded >= self._window:
            self._room.clear()
            await self._room.wait()
        if self.exhausted:
            return None
        try:
            if self._async:
                async with self._lock:
                    if self.exhausted:
                        return None
                    item = await self._source.__anext__()
            else:
                item = next(self._source)
        except (StopIteration, StopAsyncIteration):
            self._end()
            return None
        except Exception as exc:  # the caller's iterable failed: raised in the consumer
            self._failure = exc
            self._end()
            return None
        index = self.pulled
        self.pulled += 1
        return index, item

    def _end(self) -> None:
        self.exhausted = True
        self._ready.set()
        self._room.set()

    def deliver(self, index: int, outcome: Any) -> None:
        self._outcomes[index] = outcome
        if index == self.yielded:
            self._ready.set()

    async def next_outcome(self) -> Any:
        """The next outcome in input order, or ``_END``."""
        while self.yielded not in self._outcomes:
            if self.exhausted and self.yielded >= self.pulled:
                if self._failure is not None:
                    failure, self._failure = self._failure, None
                    raise failure
                return _END
            self._ready.clear()
            await self._ready.wait()
        outcome = self._outcomes.pop(self.yielded)
        self.yielded += 1
        self._room.set()
        return outcome
