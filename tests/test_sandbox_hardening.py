"""The sandbox answers malformed requests with a 4xx and the API's error envelope, scopes
idempotency keys per API key, and applies one CSRF rule to cookie-authenticated writes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest

from pacspace_sandbox import IN_PROCESS_URL, Sandbox, SandboxConfig

KEYS = ["pk_test_one.secret", "pk_test_two.secret"]
API = "/api/v1/balance"


@pytest.fixture
def sandbox() -> Sandbox:
    return Sandbox(SandboxConfig(api_keys=list(KEYS), verify_latency=0.0, seed=1))


@pytest.fixture
async def http(sandbox: Sandbox) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=sandbox.transport(), base_url=IN_PROCESS_URL, headers={"X-Api-Key": KEYS[0]}
    ) as client:
        yield client


ODD = [
    ("GET", f"{API}/derive/c?period=0000-01", None),
    ("GET", f"{API}/derive/c?period=9999-12", None),
    (
        "GET",
        f"{API}/derive/c?timePreset=custom&startDate=0001-01-01T00:00:00Z&endDate=0001-01-02T00:00:00Z",
        None,
    ),
    (
        "GET",
        f"{API}/derive/c?timePreset=custom&startDate=9999-12-30T00:00:00Z&endDate=9999-12-31T23:59:59Z",
        None,
    ),
    ("GET", f"{API}/derive/c?offset={2**63}", None),
    ("GET", f"{API}/derive/c?limit=-{2**63}", None),
    ("GET", f"{API}/checkpoints?offset={2**64}", None),
    ("GET", f"{API}/customers?page={2**63}", None),
    ("GET", f"{API}/customers/%ED%A0%80", None),
    ("GET", f"{API}/gaps/c?fromSequence={2**63}", None),
    ("POST", f"{API}/delta", b'{"customerId":"c","delta":1e999999999,"reason":"r"}'),
    ("POST", f"{API}/delta", b'{"customerId":"c","delta":-1e-999999999,"reason":"r"}'),
    ("POST", f"{API}/delta", b'{"customerId":"\\ud800","delta":1,"reason":"r"}'),
    (
        "POST",
        f"{API}/delta",
        b'{"customerId":"c","delta":1,"reason":"r","metadata":' + b"[" * 5000 + b"]" * 5000 + b"}",
    ),
    ("POST", f"{API}/delta", b"[" * 100_000 + b"]" * 100_000),
    ("POST", f"{API}/compare", b'{"customerId":"c","yourBalance":1e400,"theirBalance":1}'),
    ("POST", f"{API}/checkpoint", b'{"customerId":"c","period":"0000-00"}'),
    ("POST", f"{API}/delta/batch", b'{"deltas":[{"customerId":"c","delta":"x"}]}'),
]


@pytest.mark.parametrize(("method", "path", "body"), ODD)
async def test_odd_requests_never_get_a_5xx_and_always_the_envelope(
    http: httpx.AsyncClient, method: str, path: str, body: bytes | None
) -> None:
    response = await http.request(method, path, content=body)
    assert response.status_code < 500, response.text[:200]
    answer = response.json()
    if response.status_code >= 400:
        assert answer["success"] is False and answer["error"]["code"]
    else:  # a valid request after all (an edge-of-range date), or refused item by item
        assert answer["success"] is True
        assert "/derive/" in path or path.endswith("/batch"), response.text[:200]
        if path.endswith("/batch"):
            assert answer["data"]["totalFailed"] == 1


async def test_idempotency_keys_are_scoped_per_api_key(http: httpx.AsyncClient) -> None:
    body = json.dumps({"customerId": "c", "delta": -1, "reason": "r"})
    first = await http.post(f"{API}/delta", content=body, headers={"Idempotency-Key": "same"})
    other = await http.post(
        f"{API}/delta", content=body, headers={"Idempotency-Key": "same", "X-Api-Key": KEYS[1]}
    )
    again = await http.post(f"{API}/delta", content=body, headers={"Idempotency-Key": "same"})
    assert first.status_code == 201 and other.status_code == 201
    ids = [r.json()["data"]["recordId"] for r in (first, other, again)]
    assert ids[0] != ids[1] and ids[0] == ids[2]  # the second key's call is its own


async def test_every_cookie_authenticated_write_needs_the_csrf_header(
    http: httpx.AsyncClient,
) -> None:
    login = await http.post(
        "/dashboard/auth/login",
        content=json.dumps({"email": "you@example.com", "password": "your-secure-password"}),
    )
    assert login.status_code == 200
    for path, body in (
        ("/dashboard/api-keys", {"name": "k"}),
        ("/dashboard/customers", {"displayName": "Acme"}),
    ):
        refused = await http.post(path, content=json.dumps(body))
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "CSRF_REQUIRED"
        allowed = await http.post(path, content=json.dumps(body), headers={"X-Pacspace-CSRF": "1"})
        assert allowed.status_code == 201, allowed.text
