"""The HTTP face of the sandbox: Starlette routes over the ledger.

Routes stay thin: authenticate, read the body (at most 1 MiB, JSON with exact decimals),
call one ledger method, wrap the answer in ``{"success": true, "data": ...}``. Every error
is the documented envelope ``{"success": false, "error": {"code", "message", "field"?}}``.
"""

from __future__ import annotations

import hashlib
import html
import logging
import math
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import simplejson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from . import _answers as answers
from . import _fields, _session
from . import _inspector as inspector
from ._errors import LedgerError
from ._guard import LoginThrottle
from ._ledger import Ledger
from ._openapi import document
from ._pdf import receipt_pdf_response

__all__ = ["MAX_BODY", "create_app"]

log = logging.getLogger("pacspace.sandbox")

MAX_BODY = 1024 * 1024
Handler = Callable[[Request], Awaitable[Response]]


class JSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return simplejson.dumps(content, use_decimal=True, separators=(",", ":")).encode("utf-8")


def ok(data: Any, status: int = 200) -> JSON:
    return JSON({"success": True, "data": data}, status_code=status)


def failure(error: LedgerError) -> JSON:
    return JSON(error.body(), status_code=error.status, headers=error.headers)


class _Buckets:
    """A token bucket per API key: ``rate`` requests a second, bursts of ``rate``. Every
    answer says where the bucket stands (``X-RateLimit-Limit``: its size;
    ``-Remaining``: whole requests left; ``-Reset``: seconds until it is full again)."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.capacity = max(1.0, rate)
        self._state: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> tuple[float, dict[str, str]]:
        """0 when allowed, else the seconds until a token is free; and the headers."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._state.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            wait = 0.0
            if tokens >= 1:
                tokens -= 1
            else:
                wait = (1 - tokens) / self.rate
            self._state[key] = (tokens, now)
        headers = {
            "X-RateLimit-Limit": str(int(self.capacity)),
            "X-RateLimit-Remaining": str(int(tokens)),
            "X-RateLimit-Reset": f"{(self.capacity - tokens) / self.rate:.3f}",
        }
        return wait, headers


async def _body(request: Request) -> Any:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
        raise LedgerError(413, "PAYLOAD_TOO_LARGE", f"Bodies are limited to {MAX_BODY} bytes.")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise LedgerError(413, "PAYLOAD_TOO_LARGE", f"Bodies are limited to {MAX_BODY} bytes.")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        return {}
    try:
        return simplejson.loads(raw, use_decimal=True)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise LedgerError(400, "INVALID_JSON", "body: not valid JSON.", field="body") from None


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def create_app(ledger: Ledger) -> Starlette:
    """The ASGI application serving ``ledger``."""
    buckets = _Buckets(ledger.config.rate_limit) if ledger.config.rate_limit else None

    def guarded(handler: Handler, *, key: bool = True) -> Handler:
        async def endpoint(request: Request) -> Response:
            limits: dict[str, str] = {}
            try:
                if key:
                    api_key = request.headers.get("x-api-key")
                    if not ledger.knows_key(api_key):
                        raise LedgerError(401, "INVALID_API_KEY", "Invalid or missing API key.")
                    if buckets is not None and api_key is not None:
                        wait, limits = buckets.take(api_key)
                        if wait:
                            seconds = max(1, math.ceil(wait))
                            raise LedgerError(
                                429,
                                "RATE_LIMITED",
                                "Too many requests; slow down.",
                                headers={"Retry-After": str(seconds)},
                                retryAfterSeconds=seconds,
                            )
                response = await handler(request)
            except LedgerError as error:
                response = failure(error)
            except (ValueError, ArithmeticError, RecursionError, UnicodeError) as exc:
                # Input no rule above foresaw (an edge-of-range date, a huge number, a lone
                # surrogate...): still the client's request at fault, still the envelope.
                response = failure(
                    LedgerError(
                        400, "VALIDATION_ERROR", f"Malformed request ({type(exc).__name__})."
                    )
                )
            except Exception:
                log.exception("sandbox: %s %s failed", request.method, request.url.path)
                response = failure(
                    LedgerError(500, "INTERNAL_ERROR", "The sandbox failed on this request.")
                )
            response.headers.update(limits)
            return response

        return endpoint

    def scoped_key(request: Request) -> str | None:
        """An Idempotency-Key, scoped to the API key that sent it: one key's replay never
        answers another key's call."""
        key = request.headers.get("idempotency-key")
        if not key:
            return None
        owner = hashlib.sha256((request.headers.get("x-api-key") or "").encode()).hexdigest()
        return f"{owner[:16]}:{key}"

    def dashboard_user(request: Request, *, write: bool = False) -> str:
        return _session.dashboard_user(ledger, request, write=write)

    # -- balance --------------------------------------------------------------------------

    async def emit(request: Request) -> Response:
        answer, created = ledger.emit(await _body(request), scoped_key(request))
        return ok(answer, 201 if created else 200)

    async def batch(request: Request) -> Response:
        return ok(ledger.batch(await _body(request), scoped_key(request)))

    async def record(request: Request) -> Response:
        return ok(ledger.record(request.path_params["record_id"]))

    async def derive(request: Request) -> Response:
        return ok(ledger.derive(request.path_params["customer_id"], request.query_params))

    async def compare(request: Request) -> Response:
        return ok(ledger.compare(await _body(request)))

    async def checkpoint(request: Request) -> Response:
        answer = ledger.checkpoint(await _body(request), scoped_key(request))
        return ok(answer, 201)

    async def checkpoints(request: Request) -> Response:
        return ok(ledger.list_checkpoints(request.query_params))

    async def receipt(request: Request) -> Response:
        return ok(ledger.receipt(request.path_params["customer_id"], _base(request), None))

    async def invoice_proof(request: Request) -> Response:
        params = request.query_params
        return ok(ledger.receipt(request.path_params["customer_id"], _base(request), params))

    async def receipts(request: Request) -> Response:
        customer_id = request.query_params.get("customerId")
        if not customer_id:
            raise LedgerError(
                400, "VALIDATION_ERROR", "customerId: is required.", field="customerId"
            )
        limit = _fields.integer(request.query_params, "limit", default=25, low=1, high=100)
        return ok(ledger.receipts(customer_id, limit, _base(request)))

    async def receipt_document(request: Request) -> Response:
        row = ledger.find_receipt(request.path_params["receipt_id"])
        return ok(answers.receipt_document(row, ledger.clock(), _base(request)))

    async def receipt_pdf_route(request: Request) -> Response:
        row = ledger.find_receipt(request.path_params["receipt_id"])
        return receipt_pdf_response(row, ledger.clock(), _base(request), "inline")

    async def customers(request: Request) -> Response:
        return ok(ledger.customers(request.query_params))

    async def customer(request: Request) -> Response:
        return ok(ledger.customer(request.path_params["customer_id"], request.query_params))

    async def usage(request: Request) -> Response:
        return ok(ledger.usage())

    async def gaps(request: Request) -> Response:
        return ok(ledger.gaps(request.path_params["customer_id"], request.query_params))

    async def deliveries(request: Request) -> Response:
        params = request.query_params
        limit = _fields.integer(params, "limit", default=25, low=1, high=100)
        offset = _fields.integer(params, "offset", default=0)
        items, total = ledger.deliveries.list(params.get("status"), limit, offset)
        return ok({"deliveries": items, "total": total})

    async def retry_delivery(request: Request) -> Response:
        row = ledger.deliveries.retry(request.path_params["event_id"])
        if row is None:
            raise LedgerError(
                404, "NOT_FOUND", f"No webhook event {request.path_params['event_id']}."
            )
        return ok(ledger.deliveries.describe(row))

    # -- public -------------------------------------------------------------------------

    async def verify(request: Request) -> Response:
        source = request.query_params.get("source", "db")
        return ok(ledger.verify(request.path_params["root"], source))

    async def verify_page(request: Request) -> Response:
        root = request.path_params["root"]
        result = ledger.verify(root, "both")
        state = (
            "verified" if result["verified"] else "known" if result["db"]["found"] else "unknown"
        )
        return HTMLResponse(
            f"<!doctype html><title>PacSpace proof</title><h1>Proof {html.escape(root)}</h1>"
            f"<p>Status: <strong>{state}</strong> (sandbox)</p>"
        )

    async def receipt_page(request: Request) -> Response:
        document = answers.receipt_document(
            ledger.find_receipt(request.path_params["receipt_id"]), ledger.clock(), _base(request)
        )
        rows = "".join(
            f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
            for k, v in document.items()
            if k != "links"
        )
        return HTMLResponse(
            f"<!doctype html><title>PacSpace receipt</title><h1>Receipt</h1><table>{rows}</table>"
            f'<p><a href="{html.escape(document["links"]["pdf"])}">PDF</a></p>'
        )

    async def openapi(request: Request) -> Response:
        return JSON(document())

    async def health(request: Request) -> Response:
        return ok({"status": "ok"})

    # -- dashboard ----------------------------------------------------------------------

    async def request_access(request: Request) -> Response:
        return ok(ledger.request_access(await _body(request)), 202)

    throttle = LoginThrottle()

    async def login(request: Request) -> Response:
        client = request.client.host if request.client else "in-process"
        locked = throttle.locked_for(client)
        if locked:
            raise LedgerError(
                429,
                "TOO_MANY_LOGINS",
                f"Too many failed logins from this address; try again in {locked} s.",
                headers={"Retry-After": str(locked)},
                retryAfterSeconds=locked,
            )
        body = await _body(request)
        try:
            token, answer = ledger.login(body)
        except LedgerError as error:
            if error.code == "INVALID_CREDENTIALS":
                delay = throttle.failed(client)
                if delay:
                    await anyio.sleep(delay)
            raise
        throttle.succeeded(client)
        response = ok(answer)
        _session.set_session_cookie(response, request, token)
        return response

    async def api_keys(request: Request) -> Response:
        dashboard_user(request, write=True)
        return ok(ledger.create_api_key(await _body(request)), 201)

    async def environments(request: Request) -> Response:
        dashboard_user(request)
        return ok(ledger.environments(_base(request)))

    async def dashboard_customers(request: Request) -> Response:
        dashboard_user(request, write=True)
        return ok(ledger.create_customer(await _body(request)), 201)

    api = "/api/v1/balance"
    routes: list[BaseRoute] = [
        Route(f"{api}/delta", guarded(emit), methods=["POST"]),
        Route(f"{api}/delta/batch", guarded(batch), methods=["POST"]),
        Route(f"{api}/delta/{{record_id}}", guarded(record), methods=["GET"]),
        Route(f"{api}/derive/{{customer_id:path}}", guarded(derive), methods=["GET"]),
        Route(f"{api}/compare", guarded(compare), methods=["POST"]),
        Route(f"{api}/checkpoint", guarded(checkpoint), methods=["POST"]),
        Route(f"{api}/checkpoints", guarded(checkpoints), methods=["GET"]),
        Route(f"{api}/receipt/{{customer_id:path}}", guarded(receipt), methods=["GET"]),
        Route(f"{api}/invoice-proof/{{customer_id:path}}", guarded(invoice_proof), methods=["GET"]),
        Route(f"{api}/receipts", guarded(receipts), methods=["GET"]),
        Route(f"{api}/receipts/{{receipt_id}}", guarded(receipt_document), methods=["GET"]),
        Route(f"{api}/receipts/{{receipt_id}}/pdf", guarded(receipt_pdf_route), methods=["GET"]),
        Route(f"{api}/customers", guarded(customers), methods=["GET"]),
        Route(f"{api}/customers/{{customer_id:path}}", guarded(customer), methods=["GET"]),
        Route(f"{api}/usage", guarded(usage), methods=["GET"]),
        Route(f"{api}/gaps/{{customer_id:path}}", guarded(gaps), methods=["GET"]),
        Route(f"{api}/webhooks", guarded(deliveries), methods=["GET"]),
        Route(f"{api}/webhooks/{{event_id}}/retry", guarded(retry_delivery), methods=["POST"]),
        Route("/api/v1/verify/{root}", guarded(verify, key=False), methods=["GET"]),
        Route("/verify/{root}", guarded(verify_page, key=False), methods=["GET"]),
        Route("/receipts/{receipt_id}", guarded(receipt_page, key=False), methods=["GET"]),
        Route("/health", guarded(health, key=False), methods=["GET"]),
        Route("/openapi.json", guarded(openapi, key=False), methods=["GET"]),
        Route(
            "/dashboard/auth/request-access", guarded(request_access, key=False), methods=["POST"]
        ),
        Route("/dashboard/auth/login", guarded(login, key=False), methods=["POST"]),
        Route("/dashboard/api-keys", guarded(api_keys, key=False), methods=["POST"]),
        Route("/dashboard/environments", guarded(environments, key=False), methods=["GET"]),
        Route("/dashboard/customers", guarded(dashboard_customers, key=False), methods=["POST"]),
    ]

    routes += inspector.routes(ledger)

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(status, "INTERNAL_ERROR")
        message = "No such route." if status == 404 else str(getattr(exc, "detail", "")) or code
        headers = dict(getattr(exc, "headers", None) or {})  # 405 carries its Allow header
        return failure(LedgerError(status, code, message, headers=headers))

    return Starlette(routes=routes, exception_handlers={HTTPException: http_error})
