"""Django: its ``connection`` (or ``connections[alias]``) on PostgreSQL, blocking, in the
current ``transaction.atomic()`` block (outside one, Django commits the row at once)."""

from __future__ import annotations

from typing import Any

from django.db import DatabaseError
from django.db.transaction import TransactionManagementError

from ..._errors import ValidationError
from . import Statement
from ._failure import outbox_error

__all__ = ["run"]


def run(connection: Any, statement: Statement) -> Any | None:
    if not callable(getattr(connection, "cursor", None)) or not hasattr(connection, "vendor"):
        return NotImplemented
    if connection.vendor != "postgresql":
        raise ValidationError(
            "meter.record() writes to the PostgreSQL outbox; this Django connection is on "
            f"{connection.vendor}",
            field="connection",
        )
    statement.ready()
    try:
        with connection.cursor() as cursor:
            cursor.execute(statement.sql, statement.params)
    except TransactionManagementError as exc:  # a failed atomic block: Django's own check
        raise outbox_error(exc, statement.location, failed=True) from exc
    except DatabaseError as exc:
        raise outbox_error(exc, statement.location) from exc
    return None
