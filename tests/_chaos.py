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
from types import TracebackType


async def _read_message(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    body = await reader.readexactly(length) if length else b""
    return head + body


class DroppingProxy:
    def __init__(self, upstream_port: int, drop: Callable[[int, bytes], bool]) -> None:
        self._upstream = upstream_port
        self._drop = drop
        self._count = 0
        self._lock = threading.Lock()
        self.dropped = 0
        self.down = False
        """While set, connections are closed before anything reaches the server."""
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        server.close()
        tasks = asyncio.all_tasks(self._loop)
        for task in tasks:
            task.cancel()
        self._loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        self._loop.run_until_complete(server.wait_closed())
        self._loop.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.down:
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._upstream)
        try:
            while True:
                try:
                    request = await _read_message(reader)
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                if self.down:
                    return
                up_writer.write(request)
                await up_writer.drain()
                response = await _read_message(up_reader)
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

    def __enter__(self) -> DroppingProxy:
        self._thread.start()
        self._ready.wait(5)
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
