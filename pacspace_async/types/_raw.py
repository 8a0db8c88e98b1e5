"""The HTTP answer behind a model: status, headers, request id, rate-limit state."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

__all__ = ["Answer", "RawResponse"]


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


class Answer(NamedTuple):
    """What the transport returns for one call: the envelope's ``data`` (or the body's
    bytes), and the HTTP answer it came in. A model is built from both,
    ``Model.from_answer(*answer)``, so the raw response travels by argument."""

    data: Any
    raw: RawResponse | None
