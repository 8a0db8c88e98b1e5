"""The one error the ledger raises: an HTTP status, a code, and the field at fault."""

from __future__ import annotations

from typing import Any


class LedgerError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = headers or {}
        self.extra = extra

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field is not None:
            error["field"] = self.field
        error.update(self.extra)
        return {"success": False, "error": error}


def invalid(field: str, message: str) -> LedgerError:
    """A 400 ``VALIDATION_ERROR`` naming ``field``."""
    return LedgerError(400, "VALIDATION_ERROR", f"{field}: {message}", field=field)
