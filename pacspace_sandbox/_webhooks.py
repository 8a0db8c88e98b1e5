"""Webhook events: signing, queueing and delivery with retries.

Signed exactly as wire-protocol.md says, so any PacSpace verifier (ours, the official
client's) accepts them: ``X-PacSpace-Signature: v1=<hex HMAC-SHA256 of
"{timestamp}.{body}">``, ``X-PacSpace-Timestamp`` in Unix milliseconds,
``X-Webhook-Event`` and ``X-Event-ID``.

Events are rows in the store, due when the ledger says (a delta's verification time), so
a restart with ``--db`` loses none. One delivery task per running loop sends what is due,
retries failures with exponential backoff (1, 2, 4, 8, 16 s; six attempts in all) and
sleeps until the next event is due; it starts with the first event and stops when none is
pending. The delivery task is asyncio's: under trio (the in-process sandbox in a trio
test) events stay pending, and a WARNING says so once.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import secrets
from typing import Any

import httpx
import simplejson
import sniffio

from ._config import SandboxConfig
from ._samples import SAMPLE_EVENTS
from ._scope import iso
from ._store import LedgerStore, Row

__all__ = ["MAX_ATTEMPTS", "Deliveries", "sign"]

log = logging.getLogger("pacspace.sandbox")

MAX_ATTEMPTS = 6
CONCURRENCY = 8


def _library() -> str | None:
    try:
        return sniffio.current_async_library()
    except sniffio.AsyncLibraryNotFoundError:
        return None


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode("utf-8"), timestamp.encode() + b"." + body, hashlib.sha256)
    return "v1=" + digest.hexdigest()


class Deliveries:
    def __init__(self, store: LedgerStore, config: SandboxConfig) -> None:
        self._store = store
        self._config = config
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._http: httpx.AsyncClient | None = None
        self._warned_trio = False
        # A delivery cut off by a crash is sent again (receivers dedupe on X-Event-ID).
        store.execute("UPDATE webhook_events SET status = 'pending' WHERE status = 'sending'")

    @property
    def enabled(self) -> bool:
        return bool(self._config.webhook_url)

    def enqueue(self, event: str, data: dict[str, Any], due: float) -> str | None:
        """Store an event to deliver at ``due`` (epoch seconds). Call inside the writer's
        transaction, then :meth:`kick` once it has committed."""
        if not self.enabled:
            return None
        now = self._config.clock()
        event_id = f"evt_{int(now * 1000)}_{secrets.token_hex(4)}"
        envelope = {
            "id": event_id,
            "event": event,
            "timestamp": iso(due),
            "tenantId": "tenant_sandbox",
            "createdAt": iso(due),
            "data": data,
        }
        self._store.insert(
            "webhook_events",
            {
                "event_id": event_id,
                "event": event,
                "payload": simplejson.dumps(envelope, use_decimal=True),
                "status": "pending",
                "created_at": now,
                "next_attempt_at": due,
            },
        )
        return event_id

    def send_sample(self, event: str = "delta.verified") -> str | None:
        """Queue a signed sample ``event`` for the configured URL, due now."""
        with self._store.transaction():
            event_id = self.enqueue(event, dict(SAMPLE_EVENTS[event]), self._config.clock())
        self.kick()
        return event_id

    def kick(self) -> None:
        """Make sure a delivery task runs on the current loop (no-op outside one)."""
        if not self.enabled:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            if _library() == "trio" and not self._warned_trio:
                self._warned_trio = True
                log.warning(
                    "pacspace sandbox: webhook deliveries are sent from asyncio only; under "
                    "trio they stay pending in the sandbox (its inspector lists them) and "
                    "go out once the sandbox runs on asyncio (pacspace sandbox, or "
                    "Sandbox.serve())"
                )
            return
        if self._task is None or self._task.done() or self._task.get_loop() is not loop:
            self._wake = asyncio.Event()
            self._task = loop.create_task(self._run(), name="pacspace-sandbox-webhooks")
        elif self._wake is not None:
            self._wake.set()

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, RuntimeError):
                await task
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    def page(self, status: str | None, limit: int, offset: int) -> tuple[list[Row], int]:
        """The events, newest first (``status`` filters), and how many there are in all."""
        where, params = ("WHERE status = ?", [status]) if status else ("", [])
        total = self._store.scalar(f"SELECT COUNT(*) FROM webhook_events {where}", params)
        rows = self._store.all(
            f"SELECT * FROM webhook_events {where} ORDER BY created_at DESC, event_id LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
        return rows, int(total)

    def list(self, status: str | None, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        rows, total = self.page(status, limit, offset)
        return [self.describe(row) for row in rows], total

    def describe(self, row: Row) -> dict[str, Any]:
        return {
            "eventId": row["event_id"],
            "event": row["event"],
            "status": row["status"],
            "attempts": row["attempts"],
            "url": self._config.webhook_url,
            "lastError": row["last_error"],
            "createdAt": iso(row["created_at"]),
            "deliveredAt": iso(row["delivered_at"]) if row["delivered_at"] else None,
            "nextAttemptAt": iso(row["next_attempt_at"]) if row["status"] == "pending" else None,
        }

    def find(self, event_id: str) -> Row | None:
        return self._store.one("SELECT * FROM webhook_events WHERE event_id = ?", [event_id])

    def headers(self, row: Row) -> dict[str, str]:
        """The headers the last attempt carried (none before the first attempt); the
        signature is recomputed from the stored timestamp, the secret is never shown."""
        if not row["signed_at"] or not self._config.webhook_secret:
            return {}
        return self._signed(row, row["signed_at"])

    def _signed(self, row: Row, timestamp: str) -> dict[str, str]:
        """The signature headers of ``row``'s delivery signed at ``timestamp`` (ms)."""
        assert self._config.webhook_secret
        body = row["payload"].encode("utf-8")
        return {
            "X-PacSpace-Signature": sign(self._config.webhook_secret, timestamp, body),
            "X-PacSpace-Timestamp": timestamp,
            "X-Webhook-Event": row["event"],
            "X-Event-ID": row["event_id"],
        }

    def retry(self, event_id: str) -> Row | None:
        now = self._config.clock()
        changed = self._store.execute(
            "UPDATE webhook_events SET status = 'pending', next_attempt_at = ? WHERE event_id = ?",
            [now, event_id],
        )
        if not changed:
            return None
        self.kick()
        return self.find(event_id)

    # -- the delivery task ----------------------------------------------------------

    async def _run(self) -> None:
        assert self._wake is not None
        wake = self._wake
        slots = asyncio.Semaphore(CONCURRENCY)
        running: set[asyncio.Task[None]] = set()
        while True:
            now = self._config.clock()
            due = self._store.all(
                "SELECT * FROM webhook_events WHERE status = 'pending' AND next_attempt_at <= ? "
                "ORDER BY next_attempt_at LIMIT 64",
                [now],
            )
            for row in due:
                # Claim the row so the next pass does not send it again while in flight.
                self._store.execute(
                    "UPDATE webhook_events SET status = 'sending' WHERE event_id = ?",
                    [row["event_id"]],
                )
                await slots.acquire()
                task = asyncio.get_running_loop().create_task(self._deliver(row, slots))
                running.add(task)
                task.add_done_callback(running.discard)
            upcoming = self._store.scalar(
                "SELECT MIN(next_attempt_at) FROM webhook_events WHERE status = 'pending'"
            )
            if upcoming is None and not running:
                self._task = None
                return
            delay = 0.5 if upcoming is None else max(0.0, upcoming - self._config.clock())
            wake.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(wake.wait(), min(delay, 1.0))

    async def _deliver(self, row: Row, slots: asyncio.Semaphore) -> None:
        try:
            if self._http is None:
                self._http = httpx.AsyncClient(
                    transport=self._config.webhook_transport, timeout=10.0
                )
            body = row["payload"].encode("utf-8")
            timestamp = str(int(self._config.clock() * 1000))
            assert self._config.webhook_url
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "PacSpace-Sandbox-Webhooks/1",
                **self._signed(row, timestamp),
            }
            error: str | None = None
            try:
                response = await self._http.post(
                    self._config.webhook_url, content=body, headers=headers
                )
                if not 200 <= response.status_code < 300:
                    error = f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
            self._record(row, error, timestamp)
        finally:
            slots.release()

    def _record(self, row: Row, error: str | None, timestamp: str) -> None:
        now = self._config.clock()
        attempts = row["attempts"] + 1
        if error is None:
            self._store.execute(
                "UPDATE webhook_events SET status = 'delivered', attempts = ?, delivered_at = ?, "
                "last_error = NULL, signed_at = ? WHERE event_id = ?",
                [attempts, now, timestamp, row["event_id"]],
            )
            return
        log.info("webhook %s attempt %d failed: %s", row["event_id"], attempts, error)
        status = "failed" if attempts >= MAX_ATTEMPTS else "pending"
        self._store.execute(
            "UPDATE webhook_events SET status = ?, attempts = ?, last_error = ?, next_attempt_at = ?, "
            "signed_at = ? WHERE event_id = ?",
            [status, attempts, error, now + 2 ** (attempts - 1), timestamp, row["event_id"]],
        )
