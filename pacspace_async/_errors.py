"""The exception hierarchy. No I/O here.

Every error the SDK raises is a :class:`PacSpaceError`, so ``except PacSpaceError`` is
always enough. The attributes mirror the official ``pacspace-sdk`` (``message``,
``status_code``, ``code``, ``request_path``, ``api_body``) so that code written for it keeps
working; ``body`` is the parsed answer and ``retry_after`` the server's hint in seconds.
``status_code`` is 0 when nothing was sent or no answer came (bad input is refused before
anything leaves). Errors of one item of ``emit_many``/``emit_stream`` carry its ``index``
and ``reference_id``.
"""

from __future__ import annotations

import builtins
from typing import Any

__all__ = [
    "APIConnectionError",
    "APITimeoutError",
    "CadenceLimitError",
    "ContractNotDeployedError",
    "InsufficientCreditsError",
    "InvalidApiKeyError",
    "InvalidScopeCombinationError",
    "NotFoundError",
    "OutboxError",
    "PacSpaceError",
    "PlanLimitExceededError",
    "RateLimitError",
    "ScopeTooWideError",
    "ServiceUnavailableError",
    "TimeoutError",
    "ValidationError",
    "WebhookVerificationError",
]


class PacSpaceError(Exception):
    """Base class of every SDK error."""

    default_code = "API_ERROR"
    index: int | None = None
    """The item's position in the input, for an error of one item of ``emit_many``."""
    reference_id: str | None = None
    """The item's ``referenceId``, when the failing call had one."""

    def __init__(
        self,
        message: str,
        status_code: int = 0,
        code: str | None = None,
        request_path: str | None = None,
        *,
        retry_after: float | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.code = code or self.default_code
        self.request_path = request_path
        self.retry_after = retry_after
        self.body = body

    @property
    def status(self) -> int:
        """The HTTP status (0 when no answer was received)."""
        return self.status_code

    @property
    def api_body(self) -> Any:
        """The error object the server sent (the official client's name for it)."""
        if isinstance(self.body, dict) and isinstance(self.body.get("error"), dict):
            return self.body["error"]
        return self.body

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        where = f", path={self.request_path!r}" if self.request_path else ""
        if self.index is not None:
            where += f", index={self.index}"
        if self.reference_id is not None:
            where += f", reference_id={self.reference_id!r}"
        return (
            f"{type(self).__name__}({self.message!r}, status={self.status_code}, "
            f"code={self.code!r}{where})"
        )

    def _for_item(self, index: int, reference_id: str | None) -> None:
        """Name the item of a many-item call this error belongs to, in the message too."""
        self.index = index
        self.reference_id = reference_id
        label = f"item {index}" + (f" (referenceId {reference_id!r})" if reference_id else "")
        self.message = f"{label}: {self.message}"
        self.args = (self.message,)


class ValidationError(PacSpaceError, ValueError):
    """Bad input: raised before anything is sent (``status_code`` 0), or a 400 from the
    server. ``field`` names the argument or option at fault."""

    default_code = "VALIDATION_ERROR"

    def __init__(
        self,
        message: str,
        status_code: int = 0,
        code: str | None = None,
        request_path: str | None = None,
        *,
        field: str | None = None,
        retry_after: float | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(
            message, status_code, code, request_path, retry_after=retry_after, body=body
        )
        self.field = field


class InvalidScopeCombinationError(ValidationError):
    default_code = "INVALID_SCOPE_COMBINATION"


class ScopeTooWideError(ValidationError):
    default_code = "SCOPE_TOO_WIDE"


class InvalidApiKeyError(PacSpaceError):
    default_code = "INVALID_API_KEY"


class InsufficientCreditsError(PacSpaceError):
    default_code = "INSUFFICIENT_CREDITS"


class PlanLimitExceededError(PacSpaceError):
    """The plan's monthly allowance of verified deltas is used up. Never retried."""

    default_code = "PLAN_LIMIT_EXCEEDED"


class NotFoundError(PacSpaceError):
    default_code = "NOT_FOUND"


class ContractNotDeployedError(PacSpaceError):
    default_code = "CONTRACT_NOT_DEPLOYED"


class RateLimitError(PacSpaceError):
    """429: ``retry_after`` says how many seconds to wait."""

    default_code = "RATE_LIMITED"


class CadenceLimitError(RateLimitError):
    """429 ``CADENCE_LIMIT``: this customer's submission cadence is used up. Never retried."""

    default_code = "CADENCE_LIMIT"

    def __init__(
        self,
        message: str,
        status_code: int = 429,
        code: str | None = None,
        request_path: str | None = None,
        *,
        customer_id: str | None = None,
        retry_after: float | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(
            message, status_code, code, request_path, retry_after=retry_after, body=body
        )
        self.customer_id = customer_id

    @property
    def retry_after_ms(self) -> int | None:
        return None if self.retry_after is None else int(max(0.0, self.retry_after) * 1000)


class ServiceUnavailableError(PacSpaceError):
    default_code = "SERVICE_UNAVAILABLE"


class APIConnectionError(PacSpaceError):
    """No answer: the connection failed or dropped. The cause is chained."""

    default_code = "NETWORK_ERROR"


class APITimeoutError(APIConnectionError):
    """No answer within the request timeout."""

    default_code = "REQUEST_TIMEOUT"


class TimeoutError(PacSpaceError, builtins.TimeoutError):
    """A wait ended at its deadline without a terminal status."""

    default_code = "TIMEOUT"


class WebhookVerificationError(PacSpaceError):
    """A webhook delivery failed verification; ``reason`` says which check failed."""

    default_code = "WEBHOOK_VERIFICATION_FAILED"

    def __init__(self, message: str, *, reason: str = "invalid") -> None:
        super().__init__(message, 0)
        self.reason = reason


class OutboxError(PacSpaceError):
    """The summary outbox (a SQLite file or a PostgreSQL store) could not be used.

    The message names the outbox and what to do; ``location`` is the outbox (a path, or a
    URL without its password). Nothing already queued in it is lost by the failure.
    """

    default_code = "OUTBOX_ERROR"

    def __init__(self, message: str, location: str | None = None) -> None:
        super().__init__(message, 0)
        self.location = location
