"""An HTTPS loopback server with canned answers, so the client is what gets measured.

Raw asyncio (no framework): HTTP/1.1 with keep-alive, every request answered with the
same small success envelope (an emit's answer; a verified status to a GET). Run as a process of its own:

    python -m benchmarks._canned CERT KEY   # prints the port, serves until stdin closes
"""

from __future__ import annotations

import asyncio
import ssl
import sys

BODY = (
    b'{"success":true,"data":{"recordId":"r_%d","receiptId":"rcpt_1","status":"QUEUED",'
    b'"customerId":"cust_bench","delta":-1,"used":1}}'
)
VERIFIED = (
    b'{"success":true,"data":{"recordId":"%s","receiptId":"rcpt_1","status":"VERIFIED",'
    b'"customerId":"cust_bench","delta":-1}}'
)
_count = 0


def answer(head: bytes, close: bool) -> bytes:
    """An emit's answer (a new record id each time) to a POST, a verified record's
    status to a GET (``/api/v1/balance/delta/{recordId}``)."""
    global _count
    if head.startswith(b"GET"):
        record = head.split(b" ", 2)[1].rsplit(b"/", 1)[-1]
        body = VERIFIED % record
    else:
        _count += 1
        body = BODY % _count
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        + (b"Connection: close\r\n" if close else b"")
        + b"Content-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )


async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            close = False
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"connection" and value.strip().lower() == b"close":
                    close = True
            if length:
                await reader.readexactly(length)
            writer.write(answer(head, close))
            await writer.drain()
            if close:
                break
    except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError, asyncio.CancelledError):
        pass  # a client went away, or the server is shutting down
    finally:
        writer.close()


async def main(cert: str, key: str) -> None:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=context, backlog=1024)
    print(server.sockets[0].getsockname()[1], flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)  # until the parent closes stdin
    server.close()


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(main(sys.argv[1], sys.argv[2]))
