"""The request settings every call takes, declared once, and the option-dict layer.

The product's documentation and pacspace-sdk call ``emit(customer, delta, reason,
{"referenceId": ...})``; Python users write ``emit(customer, delta, reason,
reference_id=...)``. :func:`merge` turns both into one snake_case dict (each call declares
its own parameters in ``_params``); option dicts keep the documented units (``timeout``
and ``pollInterval`` in milliseconds), keyword arguments use seconds.

:class:`RequestOptions` is the declaration of the request settings: its fields are the
names :func:`merge` accepts, :meth:`RequestOptions.take` checks them, and
:meth:`RequestOptions.write_headers` is the one place they become headers. The two
``TypedDict`` s below give the same names their types for ``**request`` (a type checker
needs them spelled out); a test keeps them equal to the fields.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Final

from typing_extensions import TypedDict

from ._errors import ValidationError
from ._time import Duration, from_ms, seconds
from ._validate import Amount, header_name, header_value, non_negative_int

__all__ = [
    "NO_OVERRIDES",
    "REQUEST_KEYS",
    "Amount",
    "RequestOptions",
    "RequestOverrides",
    "WaitOverrides",
    "merge",
    "new_idempotency_key",
]


class WaitOverrides(TypedDict, total=False):
    """Per-call request overrides for the emit inside ``emit_and_wait`` (its ``timeout``
    is the wait's)."""

    max_retries: int
    idempotency_key: str
    extra_headers: Mapping[str, str]
    chain_id: int
    credit_pool_id: int


class RequestOverrides(WaitOverrides, total=False):
    """Per-call overrides of the client's request settings."""

    timeout: Duration


@dataclass(frozen=True, slots=True)
class RequestOptions:
    """The request settings of one call, after merging (``None``: the client's)."""

    timeout: float | None = None
    max_retries: int | None = None
    idempotency_key: str | None = None
    extra_headers: Mapping[str, str] | None = None
    chain_id: int | None = None
    credit_pool_id: int | None = None
    dashboard_token: str | None = None

    @classmethod
    def take(cls, merged: dict[str, Any], *, wait: bool = False) -> RequestOptions:
        """Pop the request settings out of ``merged``, checked.

        For waits ``timeout``/``timeout_ms`` belong to the wait, not the request, and stay.
        """
        if not merged or not merged.keys() & REQUEST_KEYS:
            return NO_OVERRIDES
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
            idempotency_key=None if key is None else header_value(key, "idempotency_key"),
            extra_headers=headers,
            chain_id=None if chain_id is None else non_negative_int(chain_id, "chain_id"),
            credit_pool_id=None
            if credit_pool_id is None
            else non_negative_int(credit_pool_id, "credit_pool_id"),
            dashboard_token=None if token is None else header_value(token, "dashboard_token"),
        )

    def write_headers(self, headers: dict[str, str], method: str) -> None:
        """These settings as headers, over the client's (``headers``); every POST carries
        an ``Idempotency-Key``, the caller's or a fresh one."""
        if self.chain_id is not None:
            headers["X-Chain-Id"] = str(self.chain_id)
        if self.credit_pool_id is not None:
            headers["X-Credit-Pool-Id"] = str(self.credit_pool_id)
        if self.dashboard_token:
            headers["Authorization"] = f"Bearer {self.dashboard_token}"
        if method == "POST":
            headers["Idempotency-Key"] = self.idempotency_key or new_idempotency_key()
        elif self.idempotency_key:
            headers["Idempotency-Key"] = self.idempotency_key
        if self.extra_headers:
            headers.update({str(k): str(v) for k, v in self.extra_headers.items()})


NO_OVERRIDES: Final = RequestOptions()
"""No request setting overridden: the transport's fast path knows it by identity."""

REQUEST_KEYS: Final = frozenset(f.name for f in fields(RequestOptions)) | {"timeout_ms"}
"""The snake_case names of the request settings (``timeout_ms``: an options dict's)."""


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


# An options dict's camelCase names and the keyword each one means: the request settings
# by rule, and the few whose documented name is not the rule's.
_SEED_NAMES: Final = {
    _camel(f.name): f.name for f in fields(RequestOptions) if f.name != "extra_headers"
} | {
    "timeout": "timeout_ms",
    "headers": "extra_headers",
    "pollInterval": "poll_interval_ms",
    "maxItems": "max_items",
}


def new_idempotency_key() -> str:
    """A fresh idempotency key: 128 random bits (as many as the caller's ``psk_`` keys
    in pacspace-sdk carry), without building a UUID object on every POST."""
    return "psk_" + os.urandom(16).hex()


def merge(
    options: Mapping[str, Any] | None,
    allowed: frozenset[str],
    kwargs: Mapping[str, Any],
    names: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """One snake_case dict from an options dict and keyword arguments.

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
        name = (names or {}).get(key) or _SEED_NAMES.get(key, key)
        if name not in allowed:
            raise ValidationError(f"unknown option {key!r}", field=key)
        if value is None:
            continue
        if name in merged and merged[name] != value:
            raise ValidationError(f"{key!r} is given twice with different values", field=key)
        merged[name] = value
    return merged
