"""A loopback HTTP/1.1 server whose answers a test writes byte by byte (drips included).

``HostileServer(answer)`` serves on 127.0.0.1 (TLS when given an ``ssl.SSLContext``);
``answer(request, writer)`` is an async function that writes whatever it likes for each
request. Every request (head and body) is kept in ``requests``.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable

from ._loopback import LoopbackServer, read_message

Answer = Callable[[bytes, asyncio.StreamWriter], Awaitable[None]]


def envelope_answer(
    body: bytes = b'{"success":true,"data":{"used":1,"recordId":"r","status":"QUEUED"}}',
    status: str = "200 OK",
) -> bytes:
    return (
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


async def ok(request: bytes, writer: asyncio.StreamWriter) -> None:
    writer.write(envelope_answer())


class HostileServer(LoopbackServer):
    def __init__(self, answer: Answer = ok, tls: ssl.SSLContext | None = None) -> None:
        super().__init__(tls)
        self._answer = answer
        self.requests: list[bytes] = []

    @property
    def url(self) -> str:
        return f"{'https' if self._tls else 'http'}://127.0.0.1:{self.port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request = await read_message(reader)
                self.requests.append(request)
                await self._answer(request, writer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()
