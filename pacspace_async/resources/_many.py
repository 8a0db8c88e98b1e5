"""Many emits at once: bounded concurrency, results in input order, flat memory.

A fixed set of ``concurrency`` workers pulls items lazily from any iterable (or async
iterable), one ``emit`` call each, with its own idempotency key kept across its retries:
no task and no semaphore per item.

* :func:`collect` (``emit_many``) keeps every result anyway, so a worker writes its
  outcome straight into the list, in input order, and nothing else runs per item.
* :func:`stream` (``emit_stream``) yields results in input order to a consumer that may
  be slow, so workers run at most ``2 × concurrency`` items ahead of the oldest result not
  yet yielded: a million items stream through in constant memory.

With ``return_exceptions=True`` (the default) a failing item gives its exception and never
disturbs the others; with ``False`` the first failure in input order is raised and the
requests still in flight are cancelled.
"""

from __future__ import annotations

from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
    Sequence,
    Sized,
)
from typing import Any

import anyio

from .._aio import Detached, Home
from .._errors import PacSpaceError, ValidationError
from ..types import EmitResult
from ._delta import ITEM_NAMES

__all__ = ["EmitItem", "EmitOutcome", "Progress", "collect", "stream"]

EmitItem = Mapping[str, Any]
"""``customerId``/``delta``/``reason`` (+ ``referenceId``, ``metadata``, ``adjusts``,
``idempotencyKey``) as in the product's documentation, or the same in snake_case."""
EmitOutcome = EmitResult | PacSpaceError
Progress = Callable[[int, EmitOutcome], object]
"""``progress(index, outcome)``: called once per item, in input order, as it completes."""
Emit = Callable[..., Awaitable[EmitResult]]

_FIELDS = frozenset(ITEM_NAMES.values())
_PLAIN = {"customerId", "delta", "reason"}


def item_arguments(item: Any) -> dict[str, Any]:
    """One item as ``emit`` keyword arguments, or a ValidationError naming the field."""
    if not isinstance(item, Mapping):
        raise ValidationError(f"each item must be a dict, not {type(item).__name__}", field="item")
    arguments: dict[str, Any] = {
        ITEM_NAMES.get(str(key), str(key)): value for key, value in item.items()
    }
    if not arguments.keys() <= _FIELDS:
        unknown = sorted(arguments.keys() - _FIELDS)[0]
        raise ValidationError(f"unknown item field {unknown!r}", field=unknown)
    for required in ("customer_id", "delta", "reason"):
        if required not in arguments:
            raise ValidationError(f"each item needs {required}", field=required)
    return arguments


def _reference_of(item: Any) -> str | None:
    if not isinstance(item, Mapping):
        return None
    value = item.get("referenceId", item.get("reference_id"))
    return value if isinstance(value, str) else None


async def _outcome(emit: Emit, index: int, item: Any) -> Any:
    """One item's result, or the exception it ended with (never raised)."""
    try:
        if type(item) is dict and item.keys() == _PLAIN:  # the documented shape, as is
            return await emit(item["customerId"], item["delta"], item["reason"])
        arguments = item_arguments(item)
        return await emit(
            arguments.pop("customer_id"),
            arguments.pop("delta"),
            arguments.pop("reason"),
            **arguments,
        )
    except PacSpaceError as exc:
        exc._for_item(index, _reference_of(item))
        return exc
    except Exception as exc:  # a bug surfacing in input order
        return exc


def _pass_on(
    index: int, outcome: Any, progress: Progress | None, return_exceptions: bool
) -> BaseException | None:
    """Report one outcome, in input order, to ``progress``; returns the exception to raise
    instead of passing the outcome on (a failure under ``return_exceptions=False``, or a
    bug), else ``None``."""
    if isinstance(outcome, PacSpaceError):
        if progress is not None:
            progress(index, outcome)
        return None if return_exceptions else outcome
    if isinstance(outcome, BaseException):
        return outcome
    if progress is not None:
        progress(index, outcome)
    return None


def _check_concurrency(concurrency: object) -> int:
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ValidationError("concurrency must be an integer >= 1", field="concurrency")
    return concurrency


async def collect(
    emit: Emit,
    items: Iterable[EmitItem] | AsyncIterable[EmitItem],
    *,
    concurrency: int,
    return_exceptions: bool,
    progress: Progress | None = None,
) -> list[EmitOutcome]:
    """Every item's outcome, in input order. The worker that completes the oldest
    outstanding item moves the results on (calling ``progress``) as far as they are
    complete; the first failure that must be raised stops every worker."""
    source = _Source(items)
    workers_count = source.workers_for(_check_concurrency(concurrency))
    results: list[EmitOutcome] = []
    waiting: dict[int, Any] = {}

    def deliver(index: int, outcome: Any) -> None:
        waiting[index] = outcome
        while (done := len(results)) in waiting:
            outcome = waiting.pop(done)
            try:
                failure = _pass_on(done, outcome, progress, return_exceptions)
            except BaseException as exc:  # progress() failed: raised to the caller
                raise _Stop(exc) from None
            if failure is not None:
                raise _Stop(failure)
            results.append(outcome)

    stopped: list[BaseException] = []
    async with anyio.create_task_group() as workers:

        async def worker() -> None:
            try:
                await _work(emit, source, deliver)
            except Exception as exc:  # the first one stops every worker
                if not stopped:
                    stopped.append(exc.outcome if isinstance(exc, _Stop) else exc)
                workers.cancel_scope.cancel()

        for _ in range(workers_count):
            workers.start_soon(worker)
    if stopped:
        raise stopped[0]
    source.raise_failure()
    return results


async def stream(
    emit: Emit,
    items: Iterable[EmitItem] | AsyncIterable[EmitItem],
    *,
    concurrency: int,
    return_exceptions: bool,
    progress: Progress | None = None,
) -> AsyncGenerator[EmitOutcome, None]:
    """Outcomes yielded in input order. A worker takes an item only while fewer than
    ``2 × concurrency`` items are pulled and not yet yielded; each result yielded lets
    exactly one waiting worker on."""
    window = 2 * _check_concurrency(concurrency)
    flow = _Flow(items, window)
    workers_count = flow.workers_for(concurrency)

    # Detached tasks, not a task group: a generator must not yield inside one (the
    # consumer's code would run in the workers' cancel scope). They end in ``finally``.
    home = Home.current()
    assert home is not None, "emit_stream runs in a task"
    workers = [
        home.spawn(lambda: _work(emit, flow, flow.deliver), "pacspace-emit-stream")
        for _ in range(workers_count)
    ]
    try:
        while True:
            outcome = await flow.next_outcome()
            if outcome is _END:
                return
            failure = _pass_on(flow.yielded - 1, outcome, progress, return_exceptions)
            if failure is not None:
                raise failure
            yield outcome
    finally:
        await _cancel(workers)


async def _work(emit: Emit, source: _Source, deliver: Callable[[int, Any], None]) -> None:
    """One worker: pull the next item from ``source``, emit it, hand its outcome to
    ``deliver`` (which may raise to stop the worker), until the items run out."""
    while (pulled := await source.pull()) is not None:
        index, item = pulled
        deliver(index, await _outcome(emit, index, item))


async def _cancel(workers: Sequence[Detached]) -> None:
    for worker in workers:
        worker.cancel()
    with anyio.CancelScope(shield=True):  # a cancelled consumer still ends its workers
        for worker in workers:
            await worker.join()


class _Stop(Exception):
    """Carries the exception ``collect`` must raise out of the worker that met it."""

    def __init__(self, outcome: BaseException) -> None:
        super().__init__()
        self.outcome = outcome


_END: Any = object()


class _Source:
    """The caller's items, pulled in order by the workers (an async iterable by one
    worker at a time); an exception of the iterable itself is kept for the caller."""

    def __init__(self, items: Iterable[Any] | AsyncIterable[Any]) -> None:
        self._source: Any
        if isinstance(items, AsyncIterable):
            self._async, self._source = True, items.__aiter__()
        else:
            self._async, self._source = False, iter(items)
        self._size = len(items) if isinstance(items, Sized) else None
        self._lock = anyio.Lock() if self._async else None
        self._failure: BaseException | None = None
        self.pulled = 0
        self.exhausted = False

    def workers_for(self, concurrency: int) -> int:
        return concurrency if self._size is None else max(1, min(concurrency, self._size))

    async def pull(self) -> tuple[int, Any] | None:
        if self.exhausted:
            return None
        try:
            if self._lock is not None:
                async with self._lock:
                    if self.exhausted:
                        return None
                    item = await self._source.__anext__()
            else:
                item = next(self._source)
        except (StopIteration, StopAsyncIteration):
            self._end()
            return None
        except Exception as exc:  # the caller's iterable failed: raised to the caller
            self._failure = exc
            self._end()
            return None
        index = self.pulled
        self.pulled += 1
        return index, item

    def _end(self) -> None:
        self.exhausted = True

    def raise_failure(self) -> None:
        if self._failure is not None:
            failure, self._failure = self._failure, None
            raise failure


class _Flow(_Source):
    """:class:`_Source` with the outcomes handed back in order to one consumer, at most
    ``window`` of them outstanding (a semaphore: one slot per item pulled and not yet
    yielded, so a yield wakes one worker, not all of them)."""

    def __init__(self, items: Iterable[Any] | AsyncIterable[Any], window: int) -> None:
        super().__init__(items)
        self._room = anyio.Semaphore(window)
        self._outcomes: dict[int, Any] = {}
        self._ready = anyio.Event()
        self.yielded = 0

    async def pull(self) -> tuple[int, Any] | None:
        await self._room.acquire()
        pulled = await super().pull()
        if pulled is None:
            self._room.release()  # the next waiting worker sees the end too
        return pulled

    def _end(self) -> None:
        super()._end()
        self._ready.set()

    def deliver(self, index: int, outcome: Any) -> None:
        self._outcomes[index] = outcome
        if index == self.yielded:
            self._ready.set()

    async def next_outcome(self) -> Any:
        """The next outcome in input order, or ``_END``."""
        while self.yielded not in self._outcomes:
            if self.exhausted and self.yielded >= self.pulled:
                self.raise_failure()
                return _END
            self._ready = ready = anyio.Event()
            await ready.wait()
        outcome = self._outcomes.pop(self.yielded)
        self.yielded += 1
        self._room.release()
        return outcome
