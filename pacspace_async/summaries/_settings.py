"""``submission={...}``: the official client's option names, validated strictly, once.

pacspace-sdk coerces what it is given (``maxDeltasPerRequest: 500`` becomes 100,
``autoStart: "no"`` becomes true). Here a value of the wrong type or out of range is a
:class:`~pacspace_async.ValidationError` naming the option, before anything is queued.

Options of ours, beside the official ones: ``outbox`` (a SQLite path, or a
``postgresql://`` URL for a fleet), ``maxQueued``/``onFull``/``blockTimeoutMs``/``onDrop``
(the bound), ``journalIntervalMs`` (how often meters journal open windows to an outbox),
``maxAttempts`` (refusals before a summary moves to the dead letters) and
``shutdownTimeoutMs`` (how long a close may spend delivering).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from .._errors import ValidationError

__all__ = ["PROFILE_CADENCE_MS", "SubmissionOptions"]

PROFILE_CADENCE_MS = {"daily": 86_400_000, "sub_daily": 21_600_000, "immediate": 0}
DEFAULT_MAX_QUEUED = 10_000


def _int(options: Mapping[str, Any], name: str, default: int, low: int, high: int | None) -> int:
    value = options.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{name} must be an integer, not {value!r}", field=name)
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ValidationError(f"{name} must be {bound}, not {value}", field=name)
    return value


def _bool(options: Mapping[str, Any], name: str, default: bool) -> bool:
    value = options.get(name, default)
    if not isinstance(value, bool):
        raise ValidationError(f"{name} must be True or False, not {value!r}", field=name)
    return value


def _choice(options: Mapping[str, Any], name: str, default: str, choices: tuple[str, ...]) -> str:
    value = options.get(name, default)
    if value not in choices:
        raise ValidationError(
            f"{name} must be one of {', '.join(choices)}, not {value!r}", field=name
        )
    return str(value)


class SubmissionOptions:
    """``submission={...}``, validated once."""

    KEYS = frozenset(
        {
            "profile",
            "cadenceMs",
            "maxDeltasPerRequest",
            "maxRequestsPerMinute",
            "autoStart",
            "autoFlushOnShutdown",
            "defaultReason",
            "enterprise",
            "outbox",
            "maxQueued",
            "onFull",
            "blockTimeoutMs",
            "onDrop",
            "journalIntervalMs",
            "maxAttempts",
            "shutdownTimeoutMs",
        }
    )

    def __init__(self, options: Mapping[str, Any] | None) -> None:
        if options is not None and not isinstance(options, Mapping):
            raise ValidationError("submission must be a dict of options", field="submission")
        options = dict(options or {})
        unknown = set(options) - self.KEYS
        if unknown:
            name = sorted(unknown)[0]
            raise ValidationError(f"unknown submission option {name!r}", field=name)
        self.profile = _choice(options, "profile", "daily", tuple(PROFILE_CADENCE_MS))
        self.enterprise = _bool(options, "enterprise", False)
        if self.profile != "daily" and not self.enterprise:
            raise ValidationError(
                f'Submission profile "{self.profile}" is enterprise-only. Set enterprise=True to enable it.',
                0,
                "INVALID_SUBMISSION_PROFILE",
                field="profile",
            )
        self.cadence_ms = _int(options, "cadenceMs", PROFILE_CADENCE_MS[self.profile], 0, None)
        if self.profile != "immediate" and self.cadence_ms <= 0:
            raise ValidationError(
                f'Submission profile "{self.profile}" requires cadenceMs > 0.',
                0,
                "INVALID_SUBMISSION_PROFILE",
                field="cadenceMs",
            )
        self.max_per_request = _int(options, "maxDeltasPerRequest", 100, 1, 100)
        self.max_per_minute = _int(options, "maxRequestsPerMinute", 10, 1, None)
        self.pace_capped = "maxRequestsPerMinute" in options
        """Whether the caller capped the pace; else the service's headers set it (10 a
        minute without them)."""
        self.auto_start = _bool(options, "autoStart", True)
        self.auto_flush = _bool(options, "autoFlushOnShutdown", True)
        reason = options.get("defaultReason", "usage_summary")
        if not isinstance(reason, str) or not reason.strip():
            raise ValidationError("defaultReason must be a non-empty string", field="defaultReason")
        self.default_reason = reason
        outbox = options.get("outbox")
        if outbox is not None and not isinstance(outbox, (str, os.PathLike)):
            raise ValidationError(
                "outbox must be a SQLite file path or a postgresql:// URL", field="outbox"
            )
        self.outbox: str | None = None if outbox is None else os.fspath(outbox)
        if self.outbox is not None and not self.outbox.strip():
            raise ValidationError("outbox must not be empty", field="outbox")
        self.max_queued = _int(options, "maxQueued", DEFAULT_MAX_QUEUED, 1, None)
        self.on_full = _choice(options, "onFull", "raise", ("raise", "block", "drop"))
        block_ms = options.get("blockTimeoutMs", 30_000)
        if isinstance(block_ms, bool) or not isinstance(block_ms, (int, float)) or block_ms < 0:
            raise ValidationError(
                f"blockTimeoutMs must be a number of milliseconds >= 0, not {block_ms!r}",
                field="blockTimeoutMs",
            )
        self.block_timeout = float(block_ms) / 1000
        on_drop = options.get("onDrop")
        if on_drop is not None and not callable(on_drop):
            raise ValidationError("onDrop must be a callable", field="onDrop")
        if self.on_full == "drop" and on_drop is None:
            raise ValidationError('onFull="drop" needs an onDrop callback', field="onDrop")
        self.on_drop: Callable[[dict[str, Any]], None] | None = on_drop
        self.journal_interval = _int(options, "journalIntervalMs", 1000, 10, 3_600_000) / 1000
        self.max_attempts = _int(options, "maxAttempts", 3, 1, None)
        self.shutdown_timeout = _int(options, "shutdownTimeoutMs", 10_000, 0, None) / 1000
