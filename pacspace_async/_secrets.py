"""How a secret is shown, wherever the SDK shows one: never whole."""

from __future__ import annotations

__all__ = ["redact", "redact_in"]


def redact(api_key: str) -> str:
    """``pk_test_…``: enough to tell environments apart, nothing an attacker can use."""
    for prefix in ("pk_test_", "pk_live_"):
        if api_key.startswith(prefix):
            return prefix + "…"
    return "…"


def redact_in(text: str, secret: str) -> str:
    """``text`` with every occurrence of ``secret`` shown as :func:`redact` shows it."""
    return text.replace(secret, redact(secret)) if secret else text
