"""Each option is declared once: the declarations and the signatures cannot drift apart."""

from __future__ import annotations

import inspect
import typing
from types import SimpleNamespace

import pytest

from pacspace_async import ClientOptions, PacSpace
from pacspace_async._params import Call
from pacspace_async.resources import _customers, _receipts
from pacspace_async.resources._delta import EMIT
from pacspace_async.resources.balance import Balance, _checkpoints, _derive, _reports

# The balance resource's declarations, by the names they had in one module.
_balance = SimpleNamespace(
    Balance=Balance,
    _DERIVE=_derive._DERIVE,
    _COMPARE=_derive._COMPARE,
    _CHECKPOINT=_checkpoints._CHECKPOINT,
    _LIST_CHECKPOINTS=_checkpoints._LIST_CHECKPOINTS,
    _RECEIPT=_checkpoints._RECEIPT,
    _CUSTOMERS=_reports._CUSTOMERS,
    _CUSTOMER=_reports._CUSTOMER,
    _GAPS=_reports._GAPS,
    _DELIVERIES=_reports._DELIVERIES,
)

CALLS: list[tuple[object, Call, set[str]]] = [
    (_balance.Balance.emit, EMIT, set()),
    (_balance.Balance.derive, _balance._DERIVE, set()),
    (_balance.Balance.compare, _balance._COMPARE, {"yours", "theirs"}),
    (_balance.Balance.checkpoint, _balance._CHECKPOINT, set()),
    (_balance.Balance.list_checkpoints, _balance._LIST_CHECKPOINTS, set()),
    (_balance.Balance.receipt, _balance._RECEIPT, set()),
    (_balance.Balance.invoice_proof, _balance._RECEIPT, set()),
    (_balance.Balance.customers, _balance._CUSTOMERS, set()),
    (_balance.Balance.customer, _balance._CUSTOMER, set()),
    (_balance.Balance.gaps, _balance._GAPS, set()),
    (_balance.Balance.list_webhook_deliveries, _balance._DELIVERIES, set()),
    (_receipts.Receipts.list, _receipts._LIST, set()),
    (_customers.Customers.create, _customers._CREATE, {"dashboard_token", "options"}),
]


@pytest.mark.parametrize(
    ("method", "call", "own"),
    CALLS,
    ids=[m.__name__ for m, _, _ in CALLS],  # type: ignore[attr-defined]
)
def test_every_keyword_is_declared_and_every_declaration_a_keyword(
    method: typing.Callable[..., object], call: Call, own: set[str]
) -> None:
    keywords = {
        name
        for name, param in inspect.signature(method).parameters.items()
        if param.kind is param.KEYWORD_ONLY
    }
    declared = {p.name for p in call.params}
    path_arguments = {"customer_id"} & {
        name
        for name, param in inspect.signature(method).parameters.items()
        if param.kind is param.POSITIONAL_OR_KEYWORD
    }
    assert keywords - own == declared - path_arguments


def test_init_options_are_the_constructor_keywords() -> None:
    keywords = {
        name: param.annotation
        for name, param in inspect.signature(PacSpace.__init__).parameters.items()
        if param.kind is param.KEYWORD_ONLY
    }
    options = typing.get_type_hints(ClientOptions)
    assert set(options) == set(keywords)


def test_request_overrides_are_the_request_settings() -> None:
    """``**request``'s types name exactly the settings ``RequestOptions`` declares (the
    dashboard token is ``customers.create``'s own keyword); a wait's drops ``timeout``."""
    import dataclasses

    from pacspace_async._options import (
        REQUEST_KEYS,
        RequestOptions,
        RequestOverrides,
        WaitOverrides,
    )

    declared = {f.name for f in dataclasses.fields(RequestOptions)}
    assert set(typing.get_type_hints(RequestOverrides)) == declared - {"dashboard_token"}
    assert set(typing.get_type_hints(WaitOverrides)) == declared - {"dashboard_token", "timeout"}
    assert declared | {"timeout_ms"} == REQUEST_KEYS
