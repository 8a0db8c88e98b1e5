"""What an answer means: its envelope opened in one place, and the SDK error it stands for.

The transport (policy: retries, pauses, deadlines) asks this module three questions of
an answer: its ``data`` (or the error it carries, as the right :class:`PacSpaceError`
subclass), whether it is a ``202 IDEMPOTENCY_PENDING`` to wait out, and its error
object. The documented envelope is ``{"success": false, "error": {"code", "message"}}``;
services also answer flat errors (``{"code", "message"}``) and errors inside a 2xx.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import _json
from ._backends import Reply
from ._errors import (
    CadenceLimitError,
    ContractNotDeployedError,
    InsufficientCreditsError,
    InvalidApiKeyError,
    InvalidScopeCombinationError,
    NotFoundError,
    PacSpaceError,
    PlanLimitExceededError,
    RateLimitError,
    ScopeTooWideError,
    ServiceUnavailableError,
    ValidationError,
)
from ._retry import parse_retry_after
from ._secrets import redact, redact_in

__all__ = ["error_object", "pending_seconds", "read"]


def error_object(parsed: Any) -> Mapping[str, Any] | None:
    """The error of a parsed answer: its ``error`` object (the envelope), else the body
    itself (a flat error); ``None`` when the answer is not a JSON object."""
    if not isinstance(parsed, dict):
        return None
    nested = parsed.get("error")
    return nested if isinstance(nested, dict) else parsed


def pending_seconds(reply: Reply) -> float | None:
    """Seconds to wait when the answer is ``202 IDEMPOTENCY_PENDING``, else ``None``."""
    if reply.status_code != 202:
        return None
    try:
        error = error_object(_json.loads(reply.content))
    except ValueError:
        return None
    if error is None or error.get("code") != "IDEMPOTENCY_PENDING":
        return None
    wait = parse_retry_after(reply.headers, error)
    return 1.0 if wait is None else max(wait, 0.05)


def read(reply: Reply, path: str, raw: bool, api_key: str) -> Any:
    """The answer's ``data`` (its bytes when ``raw``), or raise the error it carries."""
    status = reply.status_code
    data = reply.content
    if raw and 200 <= status < 300:
        return data
    key = api_key.encode()
    if key and key in data:  # a server echoing the key: it goes no further
        data = data.replace(key, redact(api_key).encode())
    try:
        parsed = _json.loads(data) if data else None
        valid = True
    except ValueError:
        parsed, valid = None, False
    if 200 <= status < 300:
        if not valid:
            raise PacSpaceError(
                f"Unexpected answer to {path}: HTTP {status} with a body that is not JSON: "
                f"{_preview(data)}",
                status,
                "INVALID_RESPONSE",
                path,
                body=_preview(data),
            )
        if isinstance(parsed, dict) and parsed.get("success") is True and "data" in parsed:
            return parsed["data"]
        if isinstance(parsed, dict) and (
            parsed.get("success") is False or isinstance(parsed.get("error"), dict)
        ):
            # An error in a success status: still an error.
            raise _error(status, parsed, reply.headers, path, data, api_key)
        return parsed
    raise _error(status, parsed if valid else None, reply.headers, path, data, api_key)


def _error(
    status: int,
    parsed: Any,
    headers: Mapping[str, str],
    path: str,
    data: bytes,
    api_key: str,
) -> PacSpaceError:
    error = error_object(parsed)
    message = None
    if error is not None:
        message = _message(error.get("message"))
        if message is None and isinstance(parsed, dict):
            message = _message(parsed.get("message")) or _message(parsed.get("error"))
    if message is None:
        message = f"HTTP {status}" + (f": {_preview(data)}" if data else "")
    message = redact_in(message, api_key)
    code = error.get("code") if error is not None else None
    code = code if isinstance(code, str) and code else None
    retry_after = parse_retry_after(headers, error)
    common: dict[str, Any] = {"retry_after": retry_after, "body": parsed}
    if code == "PLAN_LIMIT_EXCEEDED":
        return PlanLimitExceededError(message, status, code, path, **common)
    if status == 400:
        if code == "INVALID_SCOPE_COMBINATION":
            return InvalidScopeCombinationError(message, status, code, path, **common)
        if code == "SCOPE_TOO_WIDE":
            return ScopeTooWideError(message, status, code, path, **common)
        return ValidationError(message, status, code, path, **common)
    if status == 429:
        if code == "CADENCE_LIMIT":
            customer = error.get("customerId") if error is not None else None
            return CadenceLimitError(
                message,
                status,
                code,
                path,
                customer_id=customer if isinstance(customer, str) else None,
                **common,
            )
        return RateLimitError(message, status, code, path, **common)
    cls = _BY_STATUS.get(status) or _BY_CODE.get(code or "", PacSpaceError)
    return cls(message, status, code, path, **common)


_BY_STATUS: dict[int, type[PacSpaceError]] = {
    401: InvalidApiKeyError,
    402: InsufficientCreditsError,
    404: NotFoundError,
    412: ContractNotDeployedError,
    503: ServiceUnavailableError,
}


_BY_CODE: dict[str, type[PacSpaceError]] = {
    "VALIDATION_ERROR": ValidationError,
    "INVALID_SCOPE_COMBINATION": InvalidScopeCombinationError,
    "SCOPE_TOO_WIDE": ScopeTooWideError,
    "INVALID_API_KEY": InvalidApiKeyError,
    "INSUFFICIENT_CREDITS": InsufficientCreditsError,
    "NOT_FOUND": NotFoundError,
    "CONTRACT_NOT_DEPLOYED": ContractNotDeployedError,
    "CADENCE_LIMIT": RateLimitError,
    "RATE_LIMITED": RateLimitError,
}
"""For an error the status does not name (an error envelope in a 2xx answer)."""


def _message(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value
    if isinstance(value, list):
        parts = [item.strip() for item in value if isinstance(item, str) and item.strip()]
        return "; ".join(parts) if parts else None
    return None


def _preview(data: bytes, limit: int = 120) -> str:
    text = data[:limit].decode("utf-8", "replace")
    return repr(text) + ("…" if len(data) > limit else "")
