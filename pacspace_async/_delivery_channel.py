"""Verified deliveries shared by every client on one PostgreSQL outbox (LISTEN/NOTIFY).

A webhook delivery reaches one process of a fleet; the waits on its record are often in
others, which would keep polling. A client on a PostgreSQL outbox publishes each verified
``delta.verified``/``delta.failed`` it receives on a channel named for its owner (API key
and base URL, the outbox rows' own scope), and every client listening there resolves its
waits on the record at once and backs off polling, as for a delivery of its own.

A notification is a hint: the status is what the delivery said, its signature already
checked by the receiver; a lost one (a listener reconnecting, a process starting) only
means the fallback poll finds the record. One connection per client, in one daemon
thread, listens and publishes; it starts with the client's first wait or first verified
delivery, reconnects with backoff, starts again in a forked child, and ends with the
client. Clients on memory or SQLite outboxes have none.

Under gevent the thread is an operating-system one (gevent's thread pool): it waits in
libpq, which a greenlet must not do in a worker whose other greenlets serve requests. So
it shares nothing with the client but plain flags and a deque.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from ._aio import gevent_patched
from .summaries import process_lock

__all__ = ["DeliveryChannel", "channel_for"]

log = logging.getLogger("pacspace")

LOOK_EVERY = 0.05
"""Seconds between the thread's looks for news and for deliveries to publish."""
FIRST_BACKOFF = 0.5
MAX_BACKOFF = 30.0
MAX_PAYLOAD = 7900
"""PostgreSQL refuses a notification payload of 8,000 bytes or more."""


def channel_for(owner: str) -> str:
    """The channel of an owner's deliveries (a plain identifier, well under 63 bytes)."""
    return "pacspace_deliveries_" + hashlib.sha256(owner.encode("utf-8")).hexdigest()[:24]


class DeliveryChannel:
    """Publishes this client's verified deliveries and hands everyone else's to ``on_news``
    (called on the channel's thread with the delivery's status fields)."""

    def __init__(self, url: str, owner: str, on_news: Callable[[dict[str, Any]], None]) -> None:
        self._url = url
        self.channel = channel_for(owner)
        self._on_news = on_news
        self._me = secrets.token_hex(8)  # our own notifications come back to us: skipped
        self._outgoing: deque[str] = deque()
        self._stop = False
        self._running = False
        self._pid = 0
        self._lock = process_lock()
        self.listening = False
        """True while the listening connection is up (tests and benchmarks look at it)."""
        self.published = 0
        self.received = 0

    def start(self) -> None:
        """Listen (from the first wait on; again in a forked child). Every wait calls it:
        once listening, it returns without taking the lock."""
        if self._running and self._pid == os.getpid():
            return
        with self._lock.get():
            if self._stop or (self._running and self._pid == os.getpid()):
                return
            self._pid = os.getpid()
            self._running, self.listening = True, False
            if gevent_patched():
                from gevent import get_hub

                get_hub().threadpool.spawn(self._run)
            else:
                threading.Thread(
                    target=self._run, name="pacspace-delivery-channel", daemon=True
                ).start()

    def publish(self, fields: Mapping[str, Any]) -> None:
        """Tell the other clients a delivery this client verified (never blocks)."""
        payload = json.dumps({"from": self._me, **fields}, separators=(",", ":"))
        if len(payload.encode("utf-8")) > MAX_PAYLOAD:
            payload = json.dumps(
                {"from": self._me, "recordId": fields["recordId"], "status": fields["status"]}
            )
        self._outgoing.append(payload)
        self.start()

    def close(self) -> None:
        """Stop: the thread closes its connection within :data:`LOOK_EVERY`."""
        self._stop = True

    # -- the thread ---------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._connect_and_serve()
        finally:
            self._running = self.listening = False

    def _connect_and_serve(self) -> None:
        import psycopg
        from psycopg import sql

        backoff, failing = FIRST_BACKOFF, False
        while not self._stop:
            try:
                with psycopg.connect(
                    self._url,
                    autocommit=True,
                    connect_timeout=5,
                    application_name="pacspace-delivery-channel",
                ) as connection:
                    connection.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
                    self.listening = True
                    if failing:
                        log.info("pacspace: the delivery channel is back; news flows again")
                    backoff, failing = FIRST_BACKOFF, False
                    self._serve(connection)
            except Exception as exc:  # psycopg's, or a broken connection: reconnect
                self.listening = False
                if not failing and not self._stop:
                    log.info(
                        "pacspace: the delivery channel on the PostgreSQL outbox is down "
                        "(%s); waits end by polling meanwhile, nothing is lost; retrying",
                        type(exc).__name__,
                    )
                failing = True
                self._pause(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)

    def _pause(self, seconds: float) -> None:
        """Sleep ``seconds``, or less if the channel is closed meanwhile."""
        end = time.monotonic() + seconds
        while not self._stop and (left := end - time.monotonic()) > 0:
            time.sleep(min(LOOK_EVERY, left))

    def _serve(self, connection: Any) -> None:
        while not self._stop:
            while True:
                try:
                    payload = self._outgoing.popleft()
                except IndexError:
                    break
                connection.execute("SELECT pg_notify(%s, %s)", (self.channel, payload))
                self.published += 1
            for notice in connection.notifies(timeout=LOOK_EVERY):
                self._received(notice.payload)

    def _received(self, payload: str) -> None:
        try:
            fields = json.loads(payload)
        except ValueError:
            return
        if not isinstance(fields, dict) or fields.pop("from", None) == self._me:
            return
        if not isinstance(fields.get("recordId"), str) or fields.get("status") not in (
            "VERIFIED",
            "FAILED",
        ):
            return
        self.received += 1
        try:
            self._on_news(fields)
        except Exception:  # a bug must not end the channel
            log.exception("pacspace: a delivery from the channel could not be applied")
