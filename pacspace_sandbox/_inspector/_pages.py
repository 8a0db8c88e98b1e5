"""The inspector's routes: server-rendered pages behind the dashboard login.

Every page is plain HTML that works with JavaScript off; ``inspector.js`` only refreshes
the parts marked ``data-live`` by asking the same URL for ``?fragment=NAME``. Writes are
forms posting to ``/inspector/...``, each carrying the session's CSRF token, answered with
a redirect back (post/redirect/get), so a reload never repeats them.
"""

from __future__ import annotations

import functools
import html
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from .._errors import LedgerError
from .._ledger import Ledger
from .._pdf import receipt_pdf_response
from .._samples import SAMPLE_EVENTS
from .._session import (
    SESSION_COOKIE,
    csrf_token,
    dashboard_user,
    logged_in,
    session_token,
    set_session_cookie,
)
from . import _views as views

if TYPE_CHECKING:
    from starlette.templating import Jinja2Templates

__all__ = ["routes"]

HERE = Path(__file__).parent
MAX_FORM = 64 * 1024


@dataclass(frozen=True)
class Visitor:
    email: str
    csrf: str


Page = Callable[[Request, Visitor], Awaitable[Response]]


@functools.cache
def _templates() -> Jinja2Templates:
    from starlette.templating import Jinja2Templates

    return Jinja2Templates(directory=HERE / "templates")


def _safe_next(target: str | None) -> str:
    """Only a path of this server (never ``//elsewhere`` or a scheme): no open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


async def _form(request: Request) -> dict[str, str]:
    """An urlencoded form, at most 64 KiB (no multipart: the inspector's forms are small)."""
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_FORM:
            raise LedgerError(413, "PAYLOAD_TOO_LARGE", f"Forms are limited to {MAX_FORM} bytes.")
    return dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))


def routes(ledger: Ledger) -> list[BaseRoute]:
    """The inspector's pages, actions and assets, for the sandbox's app."""

    def render(
        request: Request,
        visitor: Visitor | None,
        name: str,
        status_code: int = 200,
        **context: Any,
    ) -> Response:
        try:
            templates = _templates()
        except ModuleNotFoundError as exc:
            return HTMLResponse(
                "<!doctype html><title>PacSpace sandbox</title><p>The inspector needs Jinja2 "
                f'({exc.name} is missing): <code>pip install "pacspace[sandbox]"</code></p>',
                status_code=501,
            )
        fragment = request.query_params.get("fragment")
        if fragment:
            name = f"_{fragment}.html" if fragment in context.get("live", ()) else name
        context.update(
            visitor=visitor,
            notice=request.query_params.get("notice", "")[:200],
            path=request.url.path,
        )
        return templates.TemplateResponse(
            request, name, context, status_code=status_code, headers={"Cache-Control": "no-store"}
        )

    def page(handler: Page) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            session = logged_in(ledger, request)
            if session is None:
                if request.query_params.get("fragment"):
                    return Response(status_code=401)
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(f"/login?next={quote(target, safe='')}", 303)
            email, token = session
            visitor = Visitor(email, csrf_token(token))
            try:
                return await handler(request, visitor)
            except LedgerError as error:
                return render(request, visitor, "error.html", error.status, error=error)

        return endpoint

    def action(
        handler: Callable[[Request, dict[str, str]], Awaitable[str]],
    ) -> Callable[[Request], Awaitable[Response]]:
        """A form post: the same login and CSRF rule as the dashboard's writes, then a
        redirect to where the handler says, with its notice."""

        async def endpoint(request: Request) -> Response:
            try:
                form = await _form(request)
                dashboard_user(ledger, request, write=True, form=form)
                notice = await handler(request, form)
            except LedgerError as error:
                return HTMLResponse(
                    "<!doctype html><title>PacSpace sandbox</title>"
                    f"<p>{html.escape(error.message)}</p>"
                    '<p><a href="/">Back to the inspector</a></p>',
                    status_code=error.status,
                )
            back = _safe_next(form.get("next"))
            joiner = "&" if "?" in back else "?"
            return RedirectResponse(f"{back}{joiner}{urlencode({'notice': notice})}", 303)

        return endpoint

    # -- login ---------------------------------------------------------------------------

    async def login_page(request: Request) -> Response:
        return render(
            request, None, "login.html", next=_safe_next(request.query_params.get("next"))
        )

    async def login(request: Request) -> Response:
        form = await _form(request)
        target = _safe_next(form.get("next"))
        try:
            token, _ = ledger.login(
                {"email": form.get("email", ""), "password": form.get("password", "")}
            )
        except LedgerError as error:
            return render(
                request, None, "login.html", error.status, next=target, error=error.message
            )
        response = RedirectResponse(target, 303)
        set_session_cookie(response, request, token)
        return response

    async def logout(request: Request, form: dict[str, str]) -> str:
        token, _ = session_token(request)
        ledger.logout(token)
        return "Logged out."

    logout_action = action(logout)

    async def logout_endpoint(request: Request) -> Response:
        response = await logout_action(request)
        if response.status_code == 303:
            response = RedirectResponse("/login", 303)
            response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    # -- pages ---------------------------------------------------------------------------

    async def customers_page(request: Request, visitor: Visitor) -> Response:
        data = views.customers(ledger, request.query_params)
        return render(
            request, visitor, "customers.html", nav="customers", live=("customers",), **data
        )

    async def customer_page(request: Request, visitor: Visitor) -> Response:
        customer_id = request.path_params["customer_id"]
        data = views.customer(ledger, customer_id, request.query_params)
        derived = views.derived(ledger, customer_id, request.query_params)
        return render(
            request,
            visitor,
            "customer.html",
            nav="customers",
            live=("activity",),
            customer=data,
            derived=derived,
        )

    async def summaries_page(request: Request, visitor: Visitor) -> Response:
        data = views.summaries(ledger)
        return render(
            request, visitor, "summaries.html", nav="summaries", live=("summaries",), **data
        )

    async def webhooks_page(request: Request, visitor: Visitor) -> Response:
        data = views.webhooks(ledger, request.query_params)
        return render(
            request,
            visitor,
            "webhooks.html",
            nav="webhooks",
            live=("deliveries",),
            samples=sorted(SAMPLE_EVENTS),
            **data,
        )

    async def usage_page(request: Request, visitor: Visitor) -> Response:
        return render(request, visitor, "usage.html", nav="usage", usage=views.usage(ledger))

    async def receipt_download(request: Request, visitor: Visitor) -> Response:
        row = ledger.find_receipt(request.path_params["receipt_id"])
        base = str(request.base_url).rstrip("/")
        return receipt_pdf_response(row, ledger.clock(), base, "attachment")

    # -- actions -------------------------------------------------------------------------

    async def redeliver(request: Request, form: dict[str, str]) -> str:
        event_id = request.path_params["event_id"]
        if ledger.deliveries.retry(event_id) is None:
            raise LedgerError(404, "NOT_FOUND", f"No webhook event {event_id}.")
        return f"Redelivering {event_id}."

    async def send_sample(request: Request, form: dict[str, str]) -> str:
        event = form.get("event", "delta.verified")
        if event not in SAMPLE_EVENTS:
            raise LedgerError(400, "VALIDATION_ERROR", f"event: no sample for {event!r}.")
        if not ledger.deliveries.enabled:
            raise LedgerError(
                409,
                "WEBHOOKS_NOT_CONFIGURED",
                "No webhook URL is configured: start the sandbox with --webhook-url and "
                "--webhook-secret.",
            )
        event_id = ledger.deliveries.send_sample(event)
        return f"Sent a sample {event} ({event_id})."

    return [
        Route("/", page(customers_page), methods=["GET"]),
        Route("/customers/{customer_id:path}", page(customer_page), methods=["GET"]),
        Route("/summaries", page(summaries_page), methods=["GET"]),
        Route("/webhooks", page(webhooks_page), methods=["GET"]),
        Route("/usage", page(usage_page), methods=["GET"]),
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout_endpoint, methods=["POST"]),
        Route("/inspector/receipts/{receipt_id}.pdf", page(receipt_download), methods=["GET"]),
        Route("/inspector/webhooks/{event_id}/redeliver", action(redeliver), methods=["POST"]),
        Route("/inspector/webhooks/sample", action(send_sample), methods=["POST"]),
        Mount("/inspector/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
