"""Arguments at the edge: seed-style option dicts, keyword arguments, and validation.

The seeds call ``emit(customer, delta, reason, {"referenceId": ...})``; Python users write
``emit(customer, delta, reason, reference_id=...)``. Both are translated here, once, into
one snake_case dict, and every value is checked before anything is sent. Option dicts keep
the seeds' units (``timeout`` and ``pollInterval`` in milliseconds); keyword arguments
use seconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from typing_extensions import TypedDict

from ._errors import ValidationError
from ._time import Duration, from_ms, seconds
from ._validate import header_name, header_value, non_negative_int

__all__ = [
    "Amount",
    "RequestOptions",
    "RequestOverrides",
    "merge",
]

Amount = int | float | str | Decimal
"""An amount as a caller may give it; it travels as an exact ``Decimal``."""


class RequestOverrides(TypedDict, total=False):
    """Per-call overrides of the client's request settings."""

    timeout: Duration
    max_retries: int
    idempotency_key: str
    extra_headers: Mapping[str, str]
    chain_id: int
    credit_pool_id: int


# Seed (camelCase) option names and the keyword each one means.
_SEED_NAMES: dict[str, str] = {
    "referenceId": "reference_id",
    "startingBalance": "starting_balance",
    "startingCheckpoint": "starting_checkpoint",
    "startingCheckpointType": "starting_checkpoint_type",
    "timePreset": "time_preset",
    "startDate": "start_date",
    "endDate": "end_date",
    "customerId": "customer_id",
    "deltaPage": "delta_page",
    "deltaLimit": "delta_limit",
    "fromSequence": "from_sequence",
    "toSequence": "to_sequence",
    "pollInterval": "poll_interval_ms",
    "timeout": "timeout_ms",
    "maxRetries": "max_retries",
    "idempotencyKey": "idempotency_key",
    "headers": "extra_headers",
    "chainId": "chain_id",
    "creditPoolId": "credit_pool_id",
    "dashboardToken": "dashboard_token",
    "maxItems": "max_items",
}

REQUEST_KEYS = frozenset(
    {
        "timeout",
        "timeout_ms",
        "max_retries",
        "idempotency_key",
        "extra_headers",
        "chain_id",
        "credit_pool_id",
        "dashboard_token",
    }
)


def merge(
    options: Mapping[str, Any] | None,
    allowed: frozenset[str],
    kwargs: Mapping[str, Any],
) -> dict[str, Any]:
    """One snake_case dict from a seed options dict and keyword arguments.

    Unknown option names are an error (a typo must not be silently ignored), and so is
    the same setting given both ways with different values.
    """
    merged = {key: value for key, value in kwargs.items() if value is not None}
    if options is None:
        return merged
    if not isinstance(options, Mapping):
        raise ValidationError(
            f"options must be a dict, not {type(options).__name__}", field="options"
        )
    for key, value in options.items():
        name = _SEED_NAMES.get(key, key)
        if name not in allowed:
            raise ValidationError(f"unknown option {key!r}", field=key)
        if value is None:
            continue
        if name in merged and merged[name] != value:
            raise ValidationError(f"{key!r} is given twice with different values", field=key)
        merged[name] = value
    return merged


@dataclass(frozen=True, slots=True)
class RequestOptions:
    """The request settings of one call, after merging."""

    timeout: float | None = None
    max_retries: int | None = None
    idempotency_key: str | None = None
    extra_headers: Mapping[str, str] | None = None
    chain_id: int | None = None
    credit_pool_id: int | None = None
    dashboard_token: str | None = None

    @classmethod
    def take(cls, merged: dict[str, Any], *, wait: bool = False) -> RequestOptions:
        """Pop the request settings out of ``merged``.

        For waits ``timeout``/``timeout_ms`` belong to the wait, not the request, and stay.
        """
        if not merged.keys() & REQUEST_KEYS:
            return _NO_OVERRIDES
        timeout: float | None = None
        if not wait:
            timeout = merged.pop("timeout", None)
            timeout_ms = merged.pop("timeout_ms", None)
            if timeout is None and timeout_ms is not None:
                timeout = seconds(from_ms(timeout_ms, "timeout"), "timeout")
            elif timeout is not None:
                timeout = seconds(timeout, "timeout")
        max_retries = merged.pop("max_retries", None)
        if max_retries is not None and (
            not isinstance(max_retries, int) or isinstance(max_retries, bool) or max_retries < 0
        ):
            raise ValidationError("max_retries must be an integer >= 0", field="max_retries")
        key = merged.pop("idempotency_key", None)
        if key is not None:
            key = header_value(key, "idempotency_key")
        headers = merged.pop("extra_headers", None)
        if headers is not None:
            if not isinstance(headers, Mapping):
                raise ValidationError("extra_headers must be a mapping", field="extra_headers")
            headers = {
                header_name(name, "extra_headers"): header_value(value, f"extra_headers[{name!r}]")
                for name, value in headers.items()
            }
        chain_id = merged.pop("chain_id", None)
        credit_pool_id = merged.pop("credit_pool_id", None)
        token = merged.pop("dashboard_token", None)
        return cls(
            timeout=timeout,
            max_retries=max_retries,
            idempotency_key=key,
            extra_headers=headers,
            chain_id=None if chain_id is None else non_negative_int(chain_id, "chain_id"),
            credit_pool_id=None
            if credit_pool_id is None
            else non_negative_int(credit_pool_id, "credit_pool_id"),
            dashboard_token=None if token is None else header_value(token, "dashboard_token"),
        )


_NO_OVERRIDES = RequestOptions()
