"""Properties over generated input: one behaviour on both backends, and webhooks that
only ever yield an event or a ``WebhookVerificationError``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pacspace_async as ps
import pacspace_sync

from ._hostile import HostileServer

KEY = "pk_test_PUBLIC.SECRET"
EXAMPLES = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def twins() -> Iterator[tuple[HostileServer, dict[str, pacspace_sync.PacSpace]]]:
    with HostileServer() as server:
        clients = {
            backend: pacspace_sync.PacSpace(
                KEY, base_url=server.url, http_backend=backend, max_retries=0
            )
            for backend in ("httpx", "aiohttp")
        }
        yield server, clients
        for client in clients.values():
            client.close()


def canonical(raw: bytes) -> tuple[bytes, list[bytes], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    line, *headers = head.split(b"\r\n")
    return line, sorted(h.lower() for h in headers), body


amounts = st.one_of(
    st.integers(min_value=-(10**16), max_value=10**16),
    st.decimals(allow_nan=True, allow_infinity=True, places=None),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(alphabet="0123456789.-+eE_ １", max_size=12),
)
ids = st.text(max_size=20)
metadata = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=10,
)
header_values = st.text(max_size=12)


def outcome(call: Any) -> tuple[str, object]:
    try:
        call()
    except ps.ValidationError as exc:
        return "invalid", (exc.field, exc.message)
    return "sent", None


@EXAMPLES
@given(
    customer=ids,
    amount=amounts,
    reason=ids,
    meta=st.one_of(st.none(), st.dictionaries(st.text(max_size=4), metadata, max_size=3)),
    key=header_values,
)
def test_both_backends_send_the_same_bytes_or_refuse_alike(
    twins: tuple[HostileServer, dict[str, pacspace_sync.PacSpace]],
    customer: str,
    amount: Any,
    reason: str,
    meta: dict[str, Any] | None,
    key: str,
) -> None:
    server, clients = twins
    seen = []
    for client in clients.values():
        before = len(server.requests)
        result = outcome(
            lambda c=client: c.balance.emit(
                customer, amount, reason, metadata=meta, idempotency_key=key or "k"
            )
        )
        sent = server.requests[before:]
        assert len(sent) == (1 if result[0] == "sent" else 0)
        seen.append((result, [canonical(r) for r in sent]))
    assert seen[0] == seen[1]
    if seen[0][0][0] == "sent":
        body = json.loads(seen[0][1][0][2], parse_float=Decimal)
        assert abs(body["delta"]) < 10**15  # only what the wire carries was sent


@EXAMPLES
@given(customer=ids)
def test_both_backends_send_the_same_path_for_any_id(
    twins: tuple[HostileServer, dict[str, pacspace_sync.PacSpace]], customer: str
) -> None:
    server, clients = twins
    lines = []
    for client in clients.values():
        before = len(server.requests)
        result = outcome(lambda c=client: c.balance.customer(customer))
        lines.append((result, [canonical(r)[0] for r in server.requests[before:]]))
    assert lines[0] == lines[1]


HOOKS = ps.Webhooks("whsec_test", clock=lambda: 1_779_840_000.0)


@EXAMPLES
@given(
    signature=st.one_of(st.none(), st.text(max_size=80)),
    timestamp=st.one_of(st.none(), st.text(max_size=30), st.integers()),
    body=st.one_of(st.binary(max_size=200), st.text(max_size=200)),
)
def test_any_delivery_is_an_event_or_a_verification_error(
    signature: str | None, timestamp: str | int | None, body: bytes | str
) -> None:
    try:
        HOOKS.verify(signature, timestamp, body)
    except ps.WebhookVerificationError as exc:
        assert exc.reason
    # anything else escaping fails the test


@EXAMPLES
@given(
    payload=st.one_of(
        metadata, st.dictionaries(st.sampled_from(["event", "data", "id", "timestamp"]), metadata)
    )
)
def test_any_signed_body_is_an_event_or_a_verification_error(payload: Any) -> None:
    pac = client_hooks()
    body = json.dumps(payload).encode()
    headers, _ = pac.sign(body)
    try:
        event = pac.verify_from_headers(headers, body)
    except ps.WebhookVerificationError as exc:
        assert exc.reason
    else:
        assert isinstance(event.event, str)


def client_hooks() -> ps.Webhooks:
    client = ps.PacSpace(KEY, base_url="http://127.0.0.1:9", webhook_secret="whsec_test")
    assert client.webhooks is not None
    return client.webhooks


flat_values = st.one_of(
    st.text(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.decimals(allow_nan=False, allow_infinity=False, places=None),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.lists(st.integers(), max_size=2),
)


@EXAMPLES
@given(st.dictionaries(st.text(), flat_values, max_size=6))
def test_request_bodies_are_written_as_simplejson_writes_them(body: dict[str, Any]) -> None:
    """The direct path for flat bodies (emits) writes the same bytes as the encoder."""
    import simplejson

    from pacspace_async import _json

    expected = simplejson.dumps(body, use_decimal=True, separators=(",", ":"))
    assert _json.dumps(body) == expected
    assert _json.loads(expected) == _json.loads(_json.dumps(body))


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text()
    | st.decimals(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)


@EXAMPLES
@given(json_values, st.sampled_from(["", " ", "\n", " \r\n\t"]), st.sampled_from(["", "x", "]"]))
def test_answers_are_read_as_the_standard_decoder_reads_them(
    value: Any, space: str, extra: str
) -> None:
    """The direct path for an unpadded object or array reads exactly what the decoder
    would, and refuses what follows it."""
    import simplejson

    from pacspace_async import _json

    text = space + simplejson.dumps(value, use_decimal=True) + space + extra
    try:
        expected = json.loads(text, parse_float=Decimal)
    except ValueError:
        with pytest.raises(ValueError):
            _json.loads(text.encode())
        return
    assert _json.loads(text.encode()) == expected
