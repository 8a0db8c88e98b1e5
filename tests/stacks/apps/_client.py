"""How every stack app builds its client: from the environment the test gives it."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pacspace_async
import pacspace_sync


def _settings(submission: dict[str, Any]) -> dict[str, Any]:
    outbox = os.environ.get("PACSPACE_TEST_OUTBOX")
    return {
        "base_url": os.environ["PACSPACE_API_BASE_URL"],
        "submission": {
            **({"outbox": outbox} if outbox else {}),
            "journalIntervalMs": 50,
            "maxRequestsPerMinute": 60_000,
            **submission,
        },
    }


def blocking_client(**submission: Any) -> pacspace_sync.PacSpace:
    """A blocking client on the test's sandbox (and outbox, if it gives one)."""
    return pacspace_sync.PacSpace(os.environ["PACSPACE_API_KEY"], **_settings(submission))


def async_client(**submission: Any) -> pacspace_async.PacSpace:
    """The async client on the same settings."""
    return pacspace_async.PacSpace(os.environ["PACSPACE_API_KEY"], **_settings(submission))


def django_database(url: str) -> dict[str, str]:
    """Django's ``DATABASES["default"]`` for a ``postgresql://`` URL (a socket directory
    in its ``host`` query parameter, as pgserver's are)."""
    parts = urlsplit(url)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": parts.path.lstrip("/"),
        "USER": parts.username or "postgres",
        "PASSWORD": parts.password or "",
        "HOST": parse_qs(parts.query).get("host", [parts.hostname or ""])[0],
        "PORT": str(parts.port or ""),
    }
