"""What every backend shares: the answer it returns, its two failures, and bounded reading.

A backend sends bytes and reads the answer; it knows nothing of the API. It reads the
body itself, chunk by chunk, and decodes ``gzip``/``deflate`` itself with a bound on the
*decoded* size: an answer larger than the limit (or a small gzip bomb) stops at the limit
instead of filling memory. Its library's exceptions become :class:`TimedOut` or
:class:`ConnectionFailed`, which the transport turns into the SDK's errors.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Mapping
from typing import NamedTuple, Protocol

__all__ = [
    "Backend",
    "known_length",
    "ConnectionFailed",
    "Reply",
    "TimedOut",
    "TooLarge",
    "UnsupportedEncoding",
    "read_bounded",
]


class Reply(NamedTuple):
    status_code: int
    headers: Mapping[str, str]
    """Case-insensitive."""
    content: bytes


class TimedOut(Exception):
    """No answer within a limit of the library's own (connect, read...)."""


class ConnectionFailed(Exception):
    """No answer at all: refused, reset, TLS, DNS, a proxy..."""


class TooLarge(Exception):
    """The answer is larger than the limit."""


class UnsupportedEncoding(Exception):
    """The answer is compressed in an encoding we did not ask for and cannot bound."""


class Backend(Protocol):
    async def send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        content: bytes | None,
        *,
        phases: Mapping[str, float | None],
        total: float | None,
        limit: int,
    ) -> Reply:
        """One HTTP exchange, never following a redirect; the body read and decoded
        (at most ``limit`` bytes). ``phases`` holds per-phase limits (``connect``,
        ``read``, ``write``, ``pool``); ``total`` bounds the whole exchange, end to end
        (connect, send, headers, body): past it, :class:`TimedOut`."""
        ...

    async def aclose(self) -> None: ...


async def read_bounded(chunks: AsyncIterator[bytes], encoding: str | None, limit: int) -> bytes:
    """The body, decoded, or :class:`TooLarge` as soon as it passes ``limit`` bytes."""
    encoding = (encoding or "identity").strip().lower()
    decoder: zlib._Decompress | None = None
    if encoding == "gzip" or encoding == "x-gzip":
        decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
    elif encoding == "deflate":
        decoder = zlib.decompressobj()
    elif encoding != "identity":
        raise UnsupportedEncoding(encoding)
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        if decoder is None:
            data = chunk
        else:
            # Never more than the room left (+1, to know it overflowed): a bomb stays small.
            try:
                data = decoder.decompress(chunk, limit - size + 1)
            except zlib.error as exc:
                raise ConnectionFailed(f"undecodable {encoding} body: {exc}") from None
            if decoder.unconsumed_tail:
                raise TooLarge
        size += len(data)
        if size > limit:
            raise TooLarge
        parts.append(data)
    if decoder is not None:
        try:
            rest = decoder.flush()
        except zlib.error as exc:
            raise ConnectionFailed(f"undecodable {encoding} body: {exc}") from None
        size += len(rest)
        if size > limit:
            raise TooLarge
        parts.append(rest)
    return b"".join(parts)


def known_length(headers: Mapping[str, str], limit: int) -> int | None:
    """An identity body's declared length, when it can be read in one go; raises
    :class:`TooLarge` at once when it declares more than ``limit``."""
    if headers.get("content-encoding", "identity").strip().lower() != "identity":
        return None
    declared = headers.get("content-length")
    if declared is None or not declared.isdigit():
        return None
    length = int(declared)
    if length > limit:
        raise TooLarge
    return length
