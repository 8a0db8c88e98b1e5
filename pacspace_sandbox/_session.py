"""Who is asking, for the dashboard routes and the inspector: one login, one CSRF rule.

A dashboard session is a token, sent back as an httpOnly cookie (the quick start's login)
or as ``Authorization: Bearer``. A cookie is an ambient credential: a browser attaches it
to a request another site makes it send. So every *write* authenticated by the cookie must
also prove it comes from a page of the sandbox itself, one of two ways:

* the header ``X-Pacspace-CSRF: 1``, which a cross-site form cannot set (the dashboard's
  JSON routes, the inspector's scripts);
* a form field ``csrf`` holding :func:`csrf_token` of the session, which a cross-site page
  cannot read (the inspector's forms, so that they work with JavaScript off).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import Response

from ._errors import LedgerError
from ._ledger import Ledger

__all__ = [
    "SESSION_COOKIE",
    "csrf_token",
    "dashboard_user",
    "logged_in",
    "session_token",
    "set_session_cookie",
]

SESSION_COOKIE = "pacspace_session"


def csrf_token(session: str) -> str:
    """The form token of a session: derived from the secret cookie, so only a page that
    the sandbox rendered for this session knows it."""
    return hashlib.sha256(b"pacspace-csrf:" + session.encode()).hexdigest()[:32]


def set_session_cookie(response: Response, request: Request, token: str) -> None:
    """The login's cookie: httpOnly (no script reads it), SameSite=Lax (no cross-site
    POST carries it), Secure when served over HTTPS."""
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )


def session_token(request: Request) -> tuple[str | None, bool]:
    """(the session token, whether it came from the cookie)."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        return token, True
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip() or None, False
    return None, False


def logged_in(ledger: Ledger, request: Request) -> tuple[str, str] | None:
    """(e-mail, session token) of the logged-in user, or None."""
    token, _ = session_token(request)
    email = ledger.session(token)
    return None if email is None or token is None else (email, token)


def dashboard_user(
    ledger: Ledger,
    request: Request,
    *,
    write: bool = False,
    form: Mapping[str, str] | None = None,
) -> str:
    """The logged-in user's e-mail, or :class:`LedgerError` 401 (not logged in) or 403 (a
    cookie-authenticated write without its CSRF proof)."""
    session = logged_in(ledger, request)
    if session is None:
        raise LedgerError(401, "NOT_AUTHENTICATED", "Log in to the dashboard first.")
    email, token = session
    by_cookie = request.cookies.get(SESSION_COOKIE) == token
    if write and by_cookie and request.headers.get("x-pacspace-csrf") != "1":
        sent = (form or {}).get("csrf", "")
        if not hmac.compare_digest(sent, csrf_token(token)):
            raise LedgerError(403, "CSRF_REQUIRED", "Send the header X-Pacspace-CSRF: 1.")
    return email
