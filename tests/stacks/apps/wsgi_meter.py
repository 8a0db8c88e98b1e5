"""A WSGI app that meters usage with a blocking client built at import, as apps do.

Served by the stack tests under ``gunicorn --preload``: the master imports this module,
so its client is built, and its meter's scheduler is busy journaling to the outbox, when
gunicorn forks the workers. ``GET /add?customer=c&reason=r&amount=-1`` adds usage and
answers ``ok``; ``/pid`` answers the worker's process id.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

from ._client import blocking_client

pac = blocking_client()
meter = pac.balance.meter()
meter.add("warm-up", -1)  # the master's own usage: sent once, by the master, never twice


def application(
    environ: dict[str, Any], start_response: Callable[[str, list[tuple[str, str]]], Any]
) -> Iterable[bytes]:
    if environ["PATH_INFO"] == "/pid":
        body = str(os.getpid()).encode()
    else:
        query = parse_qs(environ.get("QUERY_STRING", ""))
        meter.add(query["customer"][0], query["amount"][0], reason=query["reason"][0])
        body = b"ok"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
