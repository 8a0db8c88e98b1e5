"""Every item of a paged list, fetched one page at a time as the caller iterates."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from typing import TypeVar

from .. import _validate as check

__all__ = ["DEFAULT_PAGE_SIZE", "by_offset", "by_page"]

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 100
"""Items per request: the most the list endpoints return."""


def _size(page_size: int) -> int:
    size = check.positive_int(page_size, "page_size")
    return min(size, DEFAULT_PAGE_SIZE)


async def by_offset(
    fetch: Callable[[int, int], Awaitable[tuple[Sequence[T], int | None]]], page_size: int
) -> AsyncGenerator[T, None]:
    """``fetch(limit, offset)`` → (items, total items or None)."""
    async for item in _walk(fetch, page_size, by_items=True):
        yield item


async def by_page(
    fetch: Callable[[int, int], Awaitable[tuple[Sequence[T], int | None]]], page_size: int
) -> AsyncGenerator[T, None]:
    """``fetch(limit, page)``, pages from 1 → (items, total pages or None)."""
    async for item in _walk(fetch, page_size, by_items=False):
        yield item


async def _walk(
    fetch: Callable[[int, int], Awaitable[tuple[Sequence[T], int | None]]],
    page_size: int,
    *,
    by_items: bool,
) -> AsyncGenerator[T, None]:
    """Until a short page, or the position reaches the total the server announced."""
    limit = _size(page_size)
    position = 0 if by_items else 1
    while True:
        items, total = await fetch(limit, position)
        for item in items:
            yield item
        reached = position + len(items) if by_items else position
        if len(items) < limit or (total is not None and reached >= total):
            return
        position = reached if by_items else position + 1
