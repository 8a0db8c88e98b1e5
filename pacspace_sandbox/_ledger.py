"""The sandbox's rules: recording, verification, derive, compare, checkpoints, receipts.

Verification is a function of time, not a background job: each delta is stored with the
moment it will be verified (``verify_at``, drawn at emit from the configured latency) and
its outcome (``VERIFIED``, or ``FAILED`` at the fail rate). A status read, a derive or a
checkpoint simply compares ``verify_at`` with the clock, so the sandbox is deterministic
under an injected clock and costs nothing while idle. Only webhook deliveries need a task.

Every method takes wire-shaped input and returns wire-shaped ``dict`` answers; every
failure is a :class:`LedgerError` raised before anything is written. The rules live here;
the SQL lives in the store (:mod:`._store`), the reply shapes in :mod:`._answers`.
"""

from __future__ import annotations

import hashlib
import json
import random
import secrets
from collections.abc import Mapping
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import simplejson

from . import _answers as answers
from . import _fields as f
from ._config import SandboxConfig, new_api_key
from ._errors import LedgerError, invalid
from ._proofs import content_hash, merkle_root
from ._scope import Window, iso, resolve
from ._store import Row, Store
from ._webhooks import Deliveries

__all__ = ["MAX_BATCH", "Ledger"]

MAX_BATCH = 100
ACCESS_HINT = "Anyone holding the proof root can verify it; no PacSpace account is needed."


def _fingerprint(body: Any) -> str:
    return hashlib.sha256(
        simplejson.dumps(body, use_decimal=True, sort_keys=True).encode()
    ).hexdigest()


class Ledger:
    def __init__(self, config: SandboxConfig, store: Store | None = None) -> None:
        self.config = config
        self.store = store or Store(config.db)
        self.clock = config.clock
        self._rng = random.Random(config.seed)
        self.deliveries = Deliveries(self.store, config)
        now = self.clock()
        for key in config.api_keys:
            self.store.add_api_key(key, "configured", now)
        self._keys = self.store.api_keys()

    # -- keys and dashboard -------------------------------------------------------------

    def knows_key(self, key: str | None) -> bool:
        return bool(key) and key in self._keys

    def login(self, body: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        email = f.text(body, "email")
        password = f.text(body, "password")
        if (email, password) not in {tuple(u) for u in self.config.dashboard_users}:
            raise LedgerError(401, "INVALID_CREDENTIALS", "Email or password is incorrect.")
        token = secrets.token_urlsafe(24)
        self.store.insert("sessions", {"token": token, "email": email, "created_at": self.clock()})
        return token, {"user": {"email": email}, "token": token}

    def session(self, token: str | None) -> str | None:
        if not token:
            return None
        return self.store.session_email(token)

    def logout(self, token: str | None) -> None:
        if token:
            self.store.end_session(token)

    def create_api_key(self, body: Mapping[str, Any]) -> dict[str, Any]:
        name = f.optional_text(body, "name") or "api-key"
        key = new_api_key()
        now = self.clock()
        self.store.insert("api_keys", {"api_key": key, "name": name, "created_at": now})
        self._keys.add(key)
        public = key.split(".", 1)[0]
        return {
            "id": public,
            "name": name,
            "key": key,
            "prefix": public,
            "environment": "sandbox",
            "createdAt": iso(now),
        }

    def request_access(self, body: Mapping[str, Any]) -> dict[str, Any]:
        f.text(body, "name")
        email = f.text(body, "email")
        if "@" not in email:
            raise invalid("email", "must be an e-mail address")
        return {"status": "pending_review", "email": email}

    def environments(self, base_url: str) -> dict[str, Any]:
        return {
            "environments": [
                {"name": "sandbox", "status": "active", "chainId": 296, "baseUrl": base_url},
            ]
        }

    def create_customer(self, body: Mapping[str, Any]) -> dict[str, Any]:
        display = f.text(body, "displayName")
        customer_id = (
            f.optional_text(body, "customerId", max_length=f.MAX_ID_LENGTH)
            or f"cust_{secrets.token_hex(6)}"
        )
        with self.store.transaction():
            if self.store.customer(customer_id) is not None:
                raise LedgerError(
                    409,
                    "CUSTOMER_EXISTS",
                    f"Customer {customer_id} already exists.",
                    field="customerId",
                )
            self.store.insert(
                "customers",
                {
                    "customer_id": customer_id,
                    "display_name": display,
                    "created_at": self.clock(),
                    "unit_label": f.optional_text(body, "unitLabel"),
                    "event_cadence": f.optional_text(body, "eventCadence"),
                },
            )
        return {"customerId": customer_id, "displayName": display}

    # -- recording ------------------------------------------------------------------------

    def _parse_delta(self, body: Any, prefix: str = "") -> dict[str, Any]:
        if not isinstance(body, dict):
            raise invalid(prefix or "body", "must be a JSON object")
        try:
            item = {
                "customer_id": f.text(body, "customerId", max_length=f.MAX_ID_LENGTH),
                "amount": f.amount(body.get("delta"), "delta"),
                "reason": f.text(body, "reason"),
                "reference_id": f.optional_text(body, "referenceId", max_length=f.MAX_ID_LENGTH),
                "metadata": f.json_object(body, "metadata"),
                "adjusts": f.json_object(body, "adjusts"),
            }
        except LedgerError as exc:
            if prefix:
                exc.field = f"{prefix}.{exc.field}"
                exc.message = f"{prefix}.{exc.message}"
            raise
        return item

    def _check_plan(self, now: float) -> None:
        limit = self.config.plan_limit
        if limit is None:
            return
        moment = datetime.fromtimestamp(now, timezone.utc)
        start = datetime(moment.year, moment.month, 1, tzinfo=timezone.utc).timestamp()
        used = self.store.deltas_counted_against_plan(start, now)
        if used >= limit:
            raise LedgerError(
                402,
                "PLAN_LIMIT_EXCEEDED",
                f"This plan allows {limit} verified deltas a month; upgrade or wait for next month.",
                limit=limit,
            )

    def _record(self, item: dict[str, Any], now: float) -> tuple[Row | dict[str, Any], bool]:
        """Insert one delta (or find the one its referenceId already recorded)."""
        if item["reference_id"] is not None:
            existing = self.store.delta_by_reference(item["customer_id"], item["reference_id"])
            if existing is not None:
                self.store.note_replays([existing["record_id"]])
                return existing, True
        self._check_plan(now)
        # The customer's next sequence number, creating the customer on its first delta.
        sequence = self.store.next_sequence(item["customer_id"], now)
        latency = self.config.verify_latency
        if latency and self.config.latency_jitter:
            latency *= 1 + self.config.latency_jitter * (2 * self._rng.random() - 1)
        outcome = "FAILED" if self._rng.random() < self.config.fail_rate else "VERIFIED"
        record_id = f"r_{secrets.token_hex(8)}"
        created = iso(now)
        row = {
            "record_id": record_id,
            "receipt_id": f"rcpt_{secrets.token_hex(6)}",
            "customer_id": item["customer_id"],
            "sequence_number": sequence,
            "amount": str(item["amount"]),
            "reason": item["reason"],
            "reference_id": item["reference_id"],
            "metadata": None
            if item["metadata"] is None
            else simplejson.dumps(item["metadata"], use_decimal=True),
            "adjusts": None
            if item["adjusts"] is None
            else simplejson.dumps(item["adjusts"], use_decimal=True),
            "created_at": now,
            "verify_at": now + latency,
            "outcome": outcome,
            "content_hash": content_hash(
                record_id,
                item["customer_id"],
                item["amount"],
                item["reason"],
                item["reference_id"],
                created,
            ),
        }
        row["seq"] = self.store.insert("deltas", row)
        if self.deliveries.enabled:
            event = "delta.verified" if outcome == "VERIFIED" else "delta.failed"
            self.deliveries.enqueue(event, answers.event_data(row), row["verify_at"])
        return row, False

    def _idempotent(self, key: str | None, body: Any) -> dict[str, Any] | None:
        if not key:
            return None
        row = self.store.idempotent_answer(key)
        if row is None:
            return None
        if row["fingerprint"] != _fingerprint(body):
            raise LedgerError(
                409,
                "IDEMPOTENCY_KEY_REUSED",
                "This Idempotency-Key was used with a different request.",
            )
        answer: dict[str, Any] = simplejson.loads(row["answer"], use_decimal=True)
        return answer

    @staticmethod
    def _original(row: Row | None, what: str) -> Row:
        """What an earlier request with the same idempotency key created."""
        assert row is not None, f"{what} vanished"
        return row

    def _remember(self, key: str | None, body: Any, answer: Mapping[str, Any]) -> None:
        if key:
            self.store.insert(
                "idempotency",
                {
                    "key": key,
                    "fingerprint": _fingerprint(body),
                    "answer": simplejson.dumps(answer, use_decimal=True),
                    "created_at": self.clock(),
                },
            )

    def emit(self, body: Any, idempotency_key: str | None) -> tuple[dict[str, Any], bool]:
        """Record one delta. Returns the answer and whether it was created just now."""
        item = self._parse_delta(body)
        now = self.clock()
        with self.store.transaction():
            seen = self._idempotent(idempotency_key, body)
            if seen is not None:
                original = self._original(
                    self.store.delta_by("record_id", seen["recordId"]), seen["recordId"]
                )
                self.store.note_replays([original["record_id"]])
                return {**answers.delta(original, now), "idempotent": True}, False
            row, replay = self._record(item, now)
            answer = {**answers.delta(row, now), "idempotent": replay}
            self._remember(idempotency_key, body, {"recordId": row["record_id"]})
        self.deliveries.kick()
        return answer, not replay

    def batch(self, body: Any, idempotency_key: str | None) -> dict[str, Any]:
        if not isinstance(body, dict) or not isinstance(body.get("deltas"), list):
            raise invalid("deltas", "must be a list of deltas")
        items = body["deltas"]
        if not items:
            raise invalid("deltas", "must not be empty")
        if len(items) > MAX_BATCH:
            raise invalid("deltas", f"at most {MAX_BATCH} deltas per batch, got {len(items)}")
        now = self.clock()
        with self.store.transaction():
            seen = self._idempotent(idempotency_key, body)
            if seen is not None:
                self.store.note_replays(
                    [r["recordId"] for r in seen["results"] if r.get("recordId")]
                )
                return {**seen, "results": [{**r, "idempotent": True} for r in seen["results"]]}
            results: list[dict[str, Any]] = []
            for index, raw in enumerate(items):
                try:
                    item = self._parse_delta(raw, f"deltas[{index}]")
                    row, replay = self._record(item, now)
                except LedgerError as exc:
                    results.append(
                        {
                            "index": index,
                            "status": "FAILED",
                            "error": exc.message,
                            "code": exc.code,
                            "idempotent": False,
                        }
                    )
                    continue
                results.append(
                    {
                        "index": index,
                        "status": answers.status(row, now),
                        "idempotent": replay,
                        "recordId": row["record_id"],
                        "receiptId": row["receipt_id"],
                        "referenceId": row["reference_id"],
                        "error": None,
                    }
                )
            failed = sum(1 for r in results if r["status"] == "FAILED")
            answer = {
                "totalQueued": len(results) - failed,
                "totalFailed": failed,
                "results": results,
            }
            self._remember(idempotency_key, body, answer)
        self.deliveries.kick()
        return answer

    def record(self, record_id: str) -> dict[str, Any]:
        row = self.store.delta_by("record_id", record_id)
        if row is None:
            raise LedgerError(404, "NOT_FOUND", f"No delta with recordId {record_id}.")
        return answers.delta(row, self.clock())

    # -- deriving ---------------------------------------------------------------------------

    def _window(self, params: Mapping[str, Any], now: float) -> tuple[Window, Row | None]:
        window = resolve(params, now)
        if window.checkpoint_id is None:
            return window, None
        checkpoint = self.store.checkpoint(window.checkpoint_id)
        if checkpoint is None:
            raise LedgerError(
                404,
                "NOT_FOUND",
                f"No checkpoint {window.checkpoint_id}.",
                field="startingCheckpoint",
            )
        return window, checkpoint

    def _verified(
        self, customer_id: str | None, window: Window, checkpoint: Row | None, now: float
    ) -> list[Row]:
        """Verified deltas in scope, in sequence order."""
        if checkpoint is not None:
            return self.store.verified_deltas(customer_id, now, after_seq=checkpoint["last_seq"])
        return self.store.verified_deltas(customer_id, now, window=(window.start, window.end))

    def _scope_label(self, window: Window) -> dict[str, Any]:
        return {**window.label, "windowStart": iso(window.start), "windowEnd": iso(window.end)}

    def _latest_checkpoint(self, customer_id: str | None) -> dict[str, Any] | None:
        row = self.store.latest_checkpoint(customer_id)
        return None if row is None else answers.checkpoint(row, self.clock())

    def derive(self, customer_id: str, params: Mapping[str, Any]) -> dict[str, Any]:
        now = self.clock()
        window, checkpoint = self._window(params, now)
        start = Decimal(0)
        if checkpoint is not None:
            start = Decimal(checkpoint["computed_balance"])
        if params.get("startingBalance") is not None:
            start = f.amount(
                _number(params["startingBalance"], "startingBalance"), "startingBalance"
            )
        limit = (
            f.integer(params, "limit", default=0, low=1, high=10_000)
            if params.get("limit")
            else None
        )
        offset = f.integer(params, "offset", default=0)
        rows = self._verified(customer_id, window, checkpoint, now)
        page = rows[offset : offset + limit] if limit else rows[offset:]
        total = start + sum((Decimal(r["amount"]) for r in page), Decimal(0))
        pending = self.store.pending_count(customer_id, now)
        return {
            "customerId": customer_id,
            "computedBalance": total,
            "startingBalance": start,
            "deltaCount": len(page),
            "deltasCount": len(page),
            "pendingCount": int(pending),
            "hasMore": bool(limit) and offset + len(page) < len(rows),
            "scope": self._scope_label(window),
            "latestCheckpoint": self._latest_checkpoint(customer_id),
        }

    def compare(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise invalid("body", "must be a JSON object")
        customer_id = f.optional_text(body, "customerId", max_length=f.MAX_ID_LENGTH)
        yours = f.amount(body.get("yourBalance"), "yourBalance")
        theirs = f.amount(body.get("theirBalance"), "theirBalance")
        start = (
            Decimal(0)
            if body.get("startingBalance") is None
            else f.amount(body["startingBalance"], "startingBalance")
        )
        now = self.clock()
        window, checkpoint = self._window(body, now)
        if checkpoint is not None and body.get("startingBalance") is None:
            start = Decimal(checkpoint["computed_balance"])
        rows = self._verified(customer_id, window, checkpoint, now)
        neutral = start + sum((Decimal(r["amount"]) for r in rows), Decimal(0))
        matches_yours, matches_theirs = yours == neutral, theirs == neutral
        report = None
        if not (matches_yours and matches_theirs):
            report = self._discrepancy(yours, theirs, neutral, start, rows)
        return {
            "customerId": customer_id,
            "neutralBalance": neutral,
            "yourBalance": yours,
            "theirBalance": theirs,
            "startingBalance": start,
            "matchesYours": matches_yours,
            "matchesTheirs": matches_theirs,
            "deltaCount": len(rows),
            "scope": self._scope_label(window),
            "discrepancyReport": report,
        }

    def _discrepancy(
        self, yours: Decimal, theirs: Decimal, neutral: Decimal, start: Decimal, rows: list[Row]
    ) -> dict[str, Any]:
        if yours != neutral and theirs != neutral:
            party, amount = "both", yours - theirs
            advice = (
                "Neither view matches the verified record. Reconcile both ledgers day by day "
                "against the windows below before invoicing."
            )
        elif yours != neutral:
            party, amount = "yours", yours - neutral
            advice = (
                "Your view differs from the verified record. Find the first window where your "
                "running balance departs from the one below, and emit an adjusting delta."
            )
        else:
            party, amount = "theirs", theirs - neutral
            advice = (
                "Your counterparty's view differs from the verified record. Share the proof "
                "root and the windows below so they can find the missing or extra usage."
            )
        days: dict[str, list[Row]] = {}
        for row in rows:
            day = datetime.fromtimestamp(row["created_at"], timezone.utc).strftime("%Y-%m-%d")
            days.setdefault(day, []).append(row)
        running = start
        windows = []
        for day, day_rows in days.items():
            net = sum((Decimal(r["amount"]) for r in day_rows), Decimal(0))
            running += net
            begin = datetime.fromisoformat(day).replace(tzinfo=timezone.utc).timestamp()
            windows.append(
                {
                    "windowStart": iso(begin),
                    "windowEnd": iso(begin + 86400),
                    "deltaCount": len(day_rows),
                    "netDelta": net,
                    "runningBalance": running,
                }
            )
        return {
            "amount": amount,
            "divergentParty": party,
            "recommendation": advice,
            "yoursOffBy": yours - neutral,
            "theirsOffBy": theirs - neutral,
            "windows": windows,
        }

    # -- checkpoints and proofs ---------------------------------------------------------

    def _register_proof(
        self, root: str, kind: str, customer_id: str | None, count: int, ref: str
    ) -> None:
        now = self.clock()
        self.store.add_proof(
            root, kind, customer_id, count, now, now + self.config.verify_latency, ref
        )

    def checkpoint(self, body: Any, idempotency_key: str | None) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise invalid("body", "must be a JSON object")
        customer_id = f.optional_text(body, "customerId", max_length=f.MAX_ID_LENGTH)
        mode = f.optional_text(body, "mode")
        now = self.clock()
        window, checkpoint = self._window(body, now)
        with self.store.transaction():
            seen = self._idempotent(idempotency_key, body)
            if seen is not None:
                original = self._original(
                    self.store.checkpoint(seen["checkpointId"]), seen["checkpointId"]
                )
                return {**answers.checkpoint(original, now), "idempotent": True}
            rows = self._verified(customer_id, window, checkpoint, now)
            root = merkle_root(r["content_hash"] for r in rows)
            balance = sum((Decimal(r["amount"]) for r in rows), Decimal(0))
            checkpoint_id = f"cp_{secrets.token_hex(8)}"
            self.store.insert(
                "checkpoints",
                {
                    "checkpoint_id": checkpoint_id,
                    "customer_id": customer_id,
                    "scope": json.dumps({**window.label, **({"mode": mode} if mode else {})}),
                    "window_start": window.start,
                    "window_end": window.end,
                    "proof_root": root,
                    "delta_count": len(rows),
                    "computed_balance": str(balance),
                    "last_seq": rows[-1]["seq"] if rows else 0,
                    "created_at": now,
                    "verify_at": now + self.config.verify_latency,
                },
            )
            self._register_proof(root, "checkpoint", customer_id, len(rows), checkpoint_id)
            stored = self.store.checkpoint(checkpoint_id)
            assert stored is not None
            answer = answers.checkpoint(stored, now)
            self.deliveries.enqueue(
                "checkpoint.verified",
                {**answer, "status": "verified", "verifiedAt": iso(stored["verify_at"])},
                stored["verify_at"],
            )
            self._remember(idempotency_key, body, {"checkpointId": checkpoint_id})
        self.deliveries.kick()
        return answer

    def list_checkpoints(self, params: Mapping[str, Any]) -> dict[str, Any]:
        limit = f.integer(params, "limit", default=25, low=1, high=100)
        offset = f.integer(params, "offset", default=0)
        overlap = None
        if any(params.get(k) for k in ("period", "timePreset", "startDate", "endDate")):
            window = resolve(params, self.clock())
            overlap = (window.start, window.end)
        total, rows = self.store.checkpoints_page(params.get("customerId"), overlap, limit, offset)
        now = self.clock()
        return {
            "checkpoints": [answers.checkpoint(r, now) for r in rows],
            "total": int(total),
            "limit": limit,
            "offset": offset,
        }

    def receipt(
        self, customer_id: str, base_url: str, params: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        """Receipt data over all of a customer's verified deltas, or an invoice proof over a scope."""
        now = self.clock()
        if self.store.customer(customer_id) is None:
            raise LedgerError(404, "NOT_FOUND", f"No customer {customer_id}.")
        if params is None:
            window, checkpoint = Window(0.0, float("inf"), {}), None
        else:
            window, checkpoint = self._window(params, now)
        rows = self._verified(customer_id, window, checkpoint, now)
        root = merkle_root(r["content_hash"] for r in rows)
        with self.store.transaction():
            self._register_proof(
                root,
                "receipt" if params is None else "invoice",
                customer_id,
                len(rows),
                customer_id,
            )
        host = base_url.split("://", 1)[-1].split("/", 1)[0]
        answer = {
            "customerId": customer_id,
            "proofRoot": root,
            "deltaCount": len(rows),
            "computedBalance": sum((Decimal(r["amount"]) for r in rows), Decimal(0)),
            "verifyUrl": f"{base_url}/verify/{root}",
            "verificationApiUrl": f"{base_url}/api/v1/verify/{root}",
            "verificationExplorerUrl": f"{base_url}/explorer/proof/{root}",
            "accessHint": ACCESS_HINT,
            "customerLinkUrl": f"{base_url}/c/{customer_id}?proof={root}",
            "customerLinkHost": host,
        }
        if params is not None:
            answer["scope"] = self._scope_label(window)
        return answer

    def verify(self, root: str, source: str) -> dict[str, Any]:
        if source not in ("db", "chain", "both"):
            raise invalid("source", "must be db, chain or both")
        row = self.store.proof(root)
        now = self.clock()
        db: dict[str, Any] = {"found": row is not None}
        if row is not None:
            db.update(
                {
                    "kind": row["kind"],
                    "customerId": row["customer_id"],
                    "deltaCount": row["delta_count"],
                    "recordedAt": iso(row["created_at"]),
                }
            )
        anchored = row is not None and now >= row["anchor_at"]
        chain = {"anchored": anchored, "chainId": 296}
        if anchored and row is not None:
            chain.update(
                {
                    "transactionHash": "0x" + hashlib.sha256(f"anchor:{root}".encode()).hexdigest(),
                    "anchoredAt": iso(row["anchor_at"]),
                }
            )
        answer: dict[str, Any] = {"proofRoot": root, "source": source}
        if source in ("db", "both"):
            answer["db"] = db
        if source in ("chain", "both"):
            answer["chain"] = chain
        answer["verified"] = {
            "db": db["found"],
            "chain": anchored,
            "both": db["found"] and anchored,
        }[source]
        return answer

    # -- receipt documents ----------------------------------------------------------------

    def receipts(self, customer_id: str, limit: int, base_url: str) -> dict[str, Any]:
        rows = self.store.newest_deltas(customer_id, limit)
        return {"receipts": [answers.receipt_document(r, self.clock(), base_url) for r in rows]}

    def find_receipt(self, receipt_id: str) -> Row:
        row = self.store.delta_by("receipt_id", receipt_id)
        if row is None:
            raise LedgerError(404, "NOT_FOUND", f"No receipt {receipt_id}.")
        return row

    # -- customers, usage, gaps -------------------------------------------------------------

    def _customer_summary(
        self, row: Row, now: float, window: Window | None = None
    ) -> dict[str, Any]:
        verified, total, last = self.store.customer_activity(
            row["customer_id"], now, None if window is None else (window.start, window.end)
        )
        return {
            "customerId": row["customer_id"],
            "displayName": row["display_name"],
            "computedBalance": sum((Decimal(r["amount"]) for r in verified), Decimal(0)),
            "totalDeltas": int(total),
            "verifiedDeltas": len(verified),
            "lastActivityAt": iso(last) if last else None,
            "createdAt": iso(row["created_at"]),
        }

    def customers(self, params: Mapping[str, Any]) -> dict[str, Any]:
        limit = f.integer(params, "limit", default=25, low=1, high=100)
        page = f.integer(params, "page", default=1, low=1)
        search = params.get("search")
        total, rows = self.store.customers_page(
            str(search) if search else None, limit, (page - 1) * limit
        )
        now = self.clock()
        return {
            "customers": [self._customer_summary(r, now) for r in rows],
            "pagination": {
                "page": page,
                "limit": limit,
                "total": total,
                "totalPages": (total + limit - 1) // limit,
            },
        }

    def customer(self, customer_id: str, params: Mapping[str, Any]) -> dict[str, Any]:
        row = self.store.customer(customer_id)
        if row is None:
            raise LedgerError(404, "NOT_FOUND", f"No customer {customer_id}.")
        now = self.clock()
        window = resolve({"period": params["period"]}, now) if params.get("period") else None
        limit = f.integer(params, "deltaLimit", default=20, low=1, high=100)
        page = f.integer(params, "deltaPage", default=1, low=1)
        total, items = self.store.deltas_page(
            customer_id,
            None if window is None else (window.start, window.end),
            limit,
            (page - 1) * limit,
        )
        return {
            **self._customer_summary(row, now, window),
            "recentActivity": {
                "items": [answers.delta(r, now) for r in items],
                "pagination": {
                    "page": page,
                    "limit": limit,
                    "total": total,
                    "totalPages": (total + limit - 1) // limit,
                },
            },
        }

    def usage(self) -> dict[str, Any]:
        now = self.clock()
        moment = datetime.fromtimestamp(now, timezone.utc)
        start = datetime(moment.year, moment.month, 1, tzinfo=timezone.utc).timestamp()
        rows = self.store.deltas_since(start)
        verified = sum(1 for r in rows if r["outcome"] == "VERIFIED" and r["verify_at"] <= now)
        pending = sum(1 for r in rows if r["verify_at"] > now)
        used = verified + pending
        limit = self.config.plan_limit
        return {
            "plan": "free" if limit is not None else "sandbox_unlimited",
            "period": moment.strftime("%Y-%m"),
            "used": used,
            "verified": verified,
            "pending": pending,
            "limit": limit,
            "remaining": None if limit is None else max(0, limit - used),
            "allowed": limit is None or used < limit,
        }

    def gaps(self, customer_id: str, params: Mapping[str, Any]) -> dict[str, Any]:
        now = self.clock()
        low = f.integer(params, "fromSequence", default=1, low=0)
        high = f.integer(params, "toSequence", default=2**62, low=0)
        limit = f.integer(params, "limit", default=100, low=1, high=1000)
        rows = self.store.sequence_outcomes(customer_id, low, high)
        gaps: list[dict[str, Any]] = []
        for row in rows:
            if row["outcome"] == "FAILED" and row["verify_at"] <= now:
                seq = row["sequence_number"]
                if gaps and gaps[-1]["toSequence"] == seq - 1:
                    gaps[-1]["toSequence"] = seq
                    gaps[-1]["count"] += 1
                else:
                    gaps.append(
                        {"fromSequence": seq, "toSequence": seq, "count": 1, "reason": "failed"}
                    )
        latest = rows[-1]["sequence_number"] if rows else None
        return {
            "customerId": customer_id,
            "fromSequence": low,
            "toSequence": latest if high == 2**62 else high,
            "latestSequence": latest,
            "gaps": gaps[:limit],
        }


def _number(value: Any, name: str) -> Decimal:
    """A query-string number, exactly."""
    try:
        result = Decimal(str(value))
    except ArithmeticError:
        raise invalid(name, "must be a number") from None
    return result
