"""Every item of a paged list, fetched one page at a time as the caller iterates."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TypeVar

from .. import _options as opt

__all__ = ["DEFAULT_PAGE_SIZE", "by_offset", "by_page"]

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 100
"""Items per request: the most the list endpoints return."""


def _size(page_size: int) -> int:
    size = opt.positive_int(page_size, "page_size")
    return min(size, DEFAULT_PAGE_SIZE)


async def by_offset(
    fetch: Callable[[int, int], Awaitable[tuple[Sequence[T], int | None]]], page_size: int
) -> AsyncIterator[T]:
    """``fetch(limit, offset)`` → (items, total or None) until a short page or the total."""
    limit = _size(page_size)
    offset = 0
    while True:
        items, total = await fetch(limit, offset)
        for item in items:
            yield item
        offset += len(items)
        if len(items) < limit or (total is not None and offset >= total):
            return


async def by_page(
    fetch: Callable[[int, int], Awaitable[tuple[Sequence[T], int | None]]], page_size: int
) -> AsyncIterator[T]:
    """``fetch(limit, page)`` (pages from 1) → (items, total pages or None)."""
    limit = _size(page_size)
    page = 1
    while True:
        items, pages = await fetch(limit, page)
        for item in items:
            yield item
        if len(items) < limit or (pages is not None and page >= pages):
            return
        page += 1
