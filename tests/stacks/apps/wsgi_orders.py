"""A WSGI app whose usage belongs to its database work, written with SQLAlchemy's blocking
``Session`` on psycopg: ``/order`` inserts an order and records its usage in the same
session transaction; ``fail=1`` makes the app's own work fail after recording, so the
transaction (usage included) rolls back. Served by ``gunicorn --preload -k gevent``: the
blocking client and the engine are built at import, in the master."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from ._client import blocking_client

outbox = os.environ["PACSPACE_TEST_OUTBOX"]
engine = create_engine(outbox.replace("postgresql://", "postgresql+psycopg://", 1))
pac = blocking_client()
meter = pac.balance.meter(window="1s")  # windows end within the test


class Failed(Exception):
    """The app's own work failing after it recorded."""


def order(query: dict[str, list[str]]) -> bytes:
    customer, amount, reason = query["customer"][0], query["amount"][0], query["reason"][0]
    try:
        with Session(engine) as session, session.begin():
            session.execute(
                text("INSERT INTO orders (customer, reason, amount) VALUES (:c, :r, :a)"),
                {"c": customer, "r": reason, "a": amount},
            )
            meter.record(session, customer, amount, reason=reason)
            if query.get("fail") == ["1"]:
                raise Failed
    except Failed:
        return b"rolled back"
    return b"ok"


def application(
    environ: dict[str, Any], start_response: Callable[[str, list[tuple[str, str]]], object]
) -> Iterable[bytes]:
    if environ["PATH_INFO"] == "/pid":
        body = str(os.getpid()).encode()
    else:
        body = order(parse_qs(environ.get("QUERY_STRING", "")))
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]
