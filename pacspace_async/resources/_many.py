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
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Mapping
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
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ValidationError("concurrency must be an integer >= 1", field="concurrency")
    slots = asyncio.Semaphore(concurrency)

    async def one(index: int, item: Any) -> EmitResult:
        try:
            arguments = item_arguments(item)
            async with slots:
                return await emit(
                    arguments.pop("customer_id"),
                    arguments.pop("delta"),
                    arguments.pop("reason"),
                    **arguments,
                )
        except PacSpaceError as exc:
            exc._for_item(index, _reference_of(item))
            raise

    source: Any = items.__aiter__() if isinstance(items, AsyncIterable) else iter(items)
    is_async = isinstance(items, AsyncIterable)
    window: deque[asyncio.Task[EmitResult]] = deque()
    exhausted = False
    position = done = 0
    try:
        while True:
            while not exhausted and len(window) < 2 * concurrency:
                try:
                    item = await source.__anext__() if is_async else next(source)
                except (StopIteration, StopAsyncIteration):
                    exhausted = True
                    break
                window.append(asyncio.ensure_future(one(position, item)))
                position += 1
            if not window:
                return
            head = window.popleft()
            outcome: EmitOutcome
            try:
                outcome = await head
            except PacSpaceError as exc:
                if progress is not None:
                    progress(done, exc)
                if not return_exceptions:
                    raise
                outcome = exc
            else:
                if progress is not None:
                    progress(done, outcome)
            done += 1
            yield outcome
    finally:
        for task in window:
            task.cancel()
        for task in window:
            with contextlib.suppress(BaseException):
                await task
