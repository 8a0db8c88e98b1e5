"""The HTTP answer behind a model: status, headers, request id, rate-limit state."""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field

__all__ = ["LAST_ANSWER", "RawResponse"]


@dataclass(frozen=True, slots=True)
class RawResponse:
    """What came with an answer, as openai-python's ``with_raw_response`` shows it:
    ``answer.raw_response.headers["X-Request-Id"]``. ``headers`` is case-insensitive (the
    HTTP library's own mapping); the body is not kept (the model is the body)."""

    status_code: int
    headers: Mapping[str, str] = field(repr=False)

    @property
    def request_id(self) -> str | None:
        """``X-Request-Id``, to quote to PacSpace support."""
        return self.headers.get("x-request-id")

    @property
    def rate_limit(self) -> dict[str, str]:
        """The ``X-RateLimit-*`` headers, by their suffix (``limit``, ``remaining``, ``reset``)."""
        prefix = "x-ratelimit-"
        return {
            k.lower()[len(prefix) :]: v
            for k, v in self.headers.items()
            if k.lower().startswith(prefix)
        }


LAST_ANSWER: ContextVar[tuple[int, Mapping[str, str]] | None] = ContextVar(
    "pacspace_last_answer", default=None
)
"""The status and headers of the last answer, set by the transport after each request and
taken by the model built from it, in the same task (concurrent calls never see each
other's)."""
