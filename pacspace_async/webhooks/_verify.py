"""Webhook signature verification. CPU only, no I/O.

The rules (wire-protocol.md): ``X-PacSpace-Signature: v1=<hex>`` is the HMAC-SHA256, with
the webhook secret, of ``"{timestamp}.{raw body}"``; during a secret rotation the header
carries two ``v1=`` values and either may match; ``X-PacSpace-Timestamp`` is Unix seconds
or milliseconds and must be within the tolerance, both ways. Comparisons are constant
time. Every failure is a :class:`WebhookVerificationError` whose ``reason`` names the
check; no other exception escapes, and no message reveals a secret or a signature.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import re
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .._errors import PacSpaceError, ValidationError, WebhookVerificationError
from ._events import WebhookEvent, parse_event
from ._replay import ReplayStore

__all__ = ["Webhooks"]

SIGNATURE_HEADER = "x-pacspace-signature"
TIMESTAMP_HEADER = "x-pacspace-timestamp"
EVENT_ID_HEADER = "x-event-id"
_MS = 1_000_000_000_000
_STAMP = re.compile(r"^-?[0-9]{1,16}$")
"""Unix seconds or milliseconds: 16 digits is past the year 2286 in milliseconds."""
log = logging.getLogger("pacspace")


def _digest(key: bytes, stamp: str, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``"{timestamp}.{raw body}"``: what a ``v1=`` signature carries."""
    return hmac.new(key, stamp.encode("ascii", "replace") + b"." + body, hashlib.sha256).hexdigest()


def _fail(reason: str, message: str) -> WebhookVerificationError:
    return WebhookVerificationError(message, reason=reason)


class Webhooks:
    """Verifies PacSpace webhook deliveries.

    ``secret`` may be a list: during your side of a rotation, accept both secrets.
    ``clock`` returns Unix seconds (tests inject one). ``replay_store`` (for example
    :class:`MemoryReplayStore`) flags redelivered event ids on ``event.redelivered``.
    """

    def __init__(
        self,
        secret: str | Iterable[str],
        *,
        clock: Callable[[], float] = time.time,
        replay_store: ReplayStore | None = None,
        on_event: Callable[[WebhookEvent], None] | None = None,
    ) -> None:
        secrets = [secret] if isinstance(secret, str) else list(secret)
        if not secrets or not all(isinstance(s, str) and s for s in secrets):
            raise _fail(
                "missing_secret", "A webhook secret is required (from your PacSpace dashboard)."
            )
        self._keys = [s.encode("utf-8") for s in secrets]
        self._clock = clock
        self._replay = replay_store
        self._on_event = on_event

    @classmethod
    def _unconfigured(cls, on_event: Callable[[WebhookEvent], None] | None = None) -> Webhooks:
        """A client's ``webhooks`` when no secret is configured: there, typed, and every
        use raises a ``WebhookVerificationError`` (``reason="missing_secret"``) that says
        how to configure one."""
        webhooks = cls.__new__(cls)
        webhooks._keys = []
        webhooks._clock = time.time
        webhooks._replay = None
        webhooks._on_event = on_event
        return webhooks

    @property
    def configured(self) -> bool:
        """Whether a secret is set (a client without one still has ``webhooks``)."""
        return bool(self._keys)

    def __bool__(self) -> bool:
        # ``if pac.webhooks:`` keeps meaning "a secret is configured", as when it was None.
        return self.configured

    def _require_secret(self) -> None:
        if not self._keys:
            raise _fail(
                "missing_secret",
                "No webhook secret is configured: pass webhook_secret=... to PacSpace(...) "
                "or set PACSPACE_WEBHOOK_SECRET (from your PacSpace dashboard).",
            )

    def __repr__(self) -> str:
        return f"Webhooks(secrets={len(self._keys)})"

    def sign(
        self, payload: Mapping[str, Any] | str | bytes, timestamp: int | None = None
    ) -> tuple[dict[str, str], bytes]:
        """Headers and body of a delivery signed with the first secret, for your tests."""
        self._require_secret()
        body = (
            payload
            if isinstance(payload, bytes)
            else (
                payload.encode("utf-8")
                if isinstance(payload, str)
                else json.dumps(payload).encode("utf-8")
            )
        )
        stamp = str(int(self._clock() * 1000) if timestamp is None else timestamp)
        digest = _digest(self._keys[0], stamp, body)
        headers = {"X-PacSpace-Signature": f"v1={digest}", "X-PacSpace-Timestamp": stamp}
        if isinstance(payload, Mapping):
            if isinstance(payload.get("event"), str):
                headers["X-Webhook-Event"] = payload["event"]
            if isinstance(payload.get("id"), str):
                headers["X-Event-ID"] = payload["id"]
        return headers, body

    def verify(
        self,
        signature: str | None,
        timestamp: str | int | None,
        raw_body: str | bytes | bytearray | memoryview,
        tolerance: float = 300,
        *,
        event_id: str | None = None,
    ) -> WebhookEvent:
        """Check one delivery and return its event. Pass the body exactly as received.

        ``event_id`` (the ``X-Event-ID`` header) is what a replay store remembers; the
        envelope's ``id`` is used when it is not given.
        """
        self._require_secret()
        if not signature:
            raise _fail("missing_signature", "Missing X-PacSpace-Signature header.")
        if timestamp is None or timestamp == "":
            raise _fail("missing_timestamp", "Missing X-PacSpace-Timestamp header.")
        if isinstance(raw_body, (bytearray, memoryview)):
            raw_body = bytes(raw_body)
        if isinstance(raw_body, str):
            body = raw_body.encode("utf-8", "surrogatepass")
        elif isinstance(raw_body, bytes):
            body = raw_body
        else:
            raise _fail("invalid_body", "raw_body must be the request body as bytes or str.")
        if not body:
            raise _fail("empty_body", "The webhook body is empty.")
        if (
            isinstance(tolerance, bool)
            or not isinstance(tolerance, (int, float))
            or not math.isfinite(tolerance)
            or tolerance < 0
        ):
            raise ValidationError(
                "tolerance must be a finite number of seconds >= 0", field="tolerance"
            )
        stamp = str(timestamp).strip()
        self._check_time(stamp, tolerance)
        candidates = [
            part.strip()[3:].encode("ascii", "replace")  # non-ASCII can never match: bytes
            for part in str(signature).split(",")
            if part.strip().startswith("v1=")
        ]
        if not candidates:
            raise _fail("unknown_scheme", "The signature header has no v1= signature.")
        expected = [_digest(key, stamp, body).encode("ascii") for key in self._keys]
        if not any(hmac.compare_digest(e, c) for e in expected for c in candidates):
            raise _fail(
                "signature_mismatch",
                "Signature mismatch: check the webhook secret, and pass the raw request body "
                "exactly as received (bytes), not a re-serialised copy of the JSON.",
            )
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise _fail("not_utf8", "The webhook body is not UTF-8.") from None
        try:
            parsed = json.loads(text)
        except (ValueError, RecursionError):
            raise _fail(
                "not_json", "The webhook body is not JSON (or is nested too deeply)."
            ) from None
        if not isinstance(parsed, dict) or not isinstance(parsed.get("event"), str):
            raise _fail("not_an_event", "The webhook body is not a JSON object with an event name.")
        try:
            event = parse_event(parsed)
        except (PacSpaceError, ValueError, TypeError, RecursionError):
            raise _fail(
                "not_an_event", "The webhook body is not a PacSpace event envelope."
            ) from None
        key = event_id or event.id
        if self._replay is not None and key:
            event._redelivered = self._replay.seen(key)
        if self._on_event is not None:
            try:
                self._on_event(event)
            except Exception:  # the delivery is valid: a listener's failure is not the sender's
                log.exception("a webhook listener failed on %s", event.event)
        return event

    def verify_from_headers(
        self,
        headers: Any,
        raw_body: str | bytes | bytearray | memoryview,
        tolerance: float = 300,
    ) -> WebhookEvent:
        """:meth:`verify` with the two headers found case-insensitively in ``headers``.

        Accepts a dict, a multi-dict, Starlette or Django header objects, or a list of pairs.
        """
        try:
            signature = _header(headers, SIGNATURE_HEADER)
            timestamp = _header(headers, TIMESTAMP_HEADER)
            event_id = _header(headers, EVENT_ID_HEADER)
        except Exception:
            raise _fail(
                "invalid_headers", "headers must be a mapping or a list of pairs."
            ) from None
        return self.verify(signature, timestamp, raw_body, tolerance, event_id=event_id)

    def _check_time(self, stamp: str, tolerance: float) -> None:
        if not _STAMP.match(stamp):
            raise _fail("invalid_timestamp", "The timestamp is not Unix seconds or milliseconds.")
        value = int(stamp)
        seconds = value / 1000 if abs(value) >= _MS else float(value)
        age = self._clock() - seconds
        if age > tolerance:
            raise _fail(
                "stale_timestamp", f"The timestamp is {age:.0f}s old (tolerance {tolerance:.0f}s)."
            )
        if -age > tolerance:
            raise _fail(
                "future_timestamp",
                f"The timestamp is {-age:.0f}s in the future (tolerance {tolerance:.0f}s).",
            )


def _header(headers: Any, name: str) -> str | None:
    """A header's value(s), found case-insensitively in any common header container:
    dicts, multi-dicts (``getlist``/``get_all``), Starlette and Django header objects,
    Django's ``META`` (``HTTP_X_...``), or a list of ``(name, value)`` pairs."""
    wanted = (name, "http_" + name.replace("-", "_"))
    getlist = getattr(headers, "getlist", None) or getattr(headers, "get_all", None)
    if hasattr(headers, "items") and callable(getlist):
        values = [v for k in list(headers.keys()) if str(k).lower() in wanted for v in getlist(k)]
        return _first(values)
    pairs: Iterable[Any] = headers.items() if hasattr(headers, "items") else headers
    found = []
    for item in pairs:
        try:
            key, value = item
        except (TypeError, ValueError):
            continue
        if isinstance(key, bytes):
            key = key.decode("latin-1")
        if str(key).lower() in wanted:
            found.append(value)
    return _first(found)


def _first(value: Any) -> str | None:
    """One header value; repeated headers are joined, so either rotation signature counts."""
    if isinstance(value, (list, tuple)):
        parts = [_first(v) for v in value]
        joined = ",".join(p for p in parts if p)
        return joined or None
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    return None if value is None else str(value)
