"""pacspace-sdk's tests import ``helpers.FakeTransport`` (not shipped in its sdist): written
here from how they use it."""

from __future__ import annotations

import json
from typing import Any


class _Response:
    def __init__(self, status_code: int, headers: dict[str, str], body: bytes) -> None:
        self.status_code = status_code
        self.headers = headers
        self.body = body


class FakeTransport:
    """pacspace-sdk's test helper, as its tests use it: answers queued in order, calls kept."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self._answers: list[_Response] = []

    def queue(self, status_code: int = 200, body: Any = None, headers: dict[str, str] | None = None) -> None:
        data = body if isinstance(body, (bytes, str)) else json.dumps(body)
        raw = data.encode() if isinstance(data, str) else data
        self._answers.append(_Response(status_code, {"content-type": "application/json", **(headers or {})}, raw))

    def __call__(self, method: str, url: str, headers: dict[str, str], body: str | None, timeout_ms: int) -> _Response:
        self.calls.append({"method": method, "url": url, "headers": headers, "body": body, "timeout_ms": timeout_ms})
        if not self._answers:
            raise AssertionError(f"no answer queued for {method} {url}")
        return self._answers.pop(0)
