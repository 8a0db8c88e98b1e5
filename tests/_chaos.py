"""A loopback HTTP/1.1 proxy that drops chosen responses after the server answered.

It forwards each request (Content-Length bodies; keep-alive) to the upstream server and
reads the complete answer, so the server has committed; then, when ``drop(n, head)``
says so for the n-th request, it closes the client's connection instead of answering:
the client sees a dropped connection for a request that did happen.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

from ._loopback import LoopbackServer, read_message


class DroppingProxy(LoopbackServer):
    def __init__(self, upstream_port: int, drop: Callable[[int, bytes], bool]) -> None:
        super().__init__()
        self._upstream = upstream_port
        self._drop = drop
        self._count = 0
        self._lock = threading.Lock()
        self.dropped = 0
        self.down = False
        """While set, connections are closed before anything reaches the server."""

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.down:
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._upstream)
        try:
            while True:
                try:
                    request = await read_message(reader)
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                if self.down:
                    return
                up_writer.write(request)
                await up_writer.drain()
                response = await read_message(up_reader)
                with self._lock:
                    self._count += 1
                    drop = self._drop(self._count, request.split(b"\r\n", 1)[0])
                if drop:
                    self.dropped += 1
                    return
                writer.write(response)
                await writer.drain()
        finally:
            writer.close()
            up_writer.close()
