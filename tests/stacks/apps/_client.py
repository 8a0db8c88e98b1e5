"""How every stack app builds its client: from the environment the test gives it."""

from __future__ import annotations

import os
from typing import Any

from pacspace_sync import PacSpace


def blocking_client(**submission: Any) -> PacSpace:
    """A blocking client on the test's sandbox (and outbox, if it gives one)."""
    outbox = os.environ.get("PACSPACE_TEST_OUTBOX")
    return PacSpace(
        os.environ["PACSPACE_API_KEY"],
        base_url=os.environ["PACSPACE_API_BASE_URL"],
        submission={
            **({"outbox": outbox} if outbox else {}),
            "journalIntervalMs": 50,
            "maxRequestsPerMinute": 60_000,
            **submission,
        },
    )
