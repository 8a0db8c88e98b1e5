"""Every answer maps to its documented error class, carrying what the caller needs."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
import respx

import pacspace_async as ps
from pacspace_async import PacSpace

from .conftest import KEY

TABLE: list[tuple[int, Any, type[ps.PacSpaceError], str]] = [
    (
        400,
        {"error": {"code": "INVALID_SCOPE_COMBINATION", "message": "m"}},
        ps.InvalidScopeCombinationError,
        "INVALID_SCOPE_COMBINATION",
    ),
    (
        400,
        {"error": {"code": "SCOPE_TOO_WIDE", "message": "m"}},
        ps.ScopeTooWideError,
        "SCOPE_TOO_WIDE",
    ),
    (
        400,
        {"message": ["delta must be a number", "reason is required"]},
        ps.ValidationError,
        "VALIDATION_ERROR",
    ),
    (400, {"error": {"code": "WEIRD", "message": "m"}}, ps.ValidationError, "WEIRD"),
    (
        401,
        {"error": {"code": "INVALID_API_KEY", "message": "m"}},
        ps.InvalidApiKeyError,
        "INVALID_API_KEY",
    ),
    (
        402,
        {"error": {"code": "INSUFFICIENT_CREDITS", "message": "m"}},
        ps.InsufficientCreditsError,
        "INSUFFICIENT_CREDITS",
    ),
    (
        402,
        {"error": {"code": "PLAN_LIMIT_EXCEEDED", "message": "m"}},
        ps.PlanLimitExceededError,
        "PLAN_LIMIT_EXCEEDED",
    ),
    (
        429,
        {"error": {"code": "PLAN_LIMIT_EXCEEDED", "message": "m"}},
        ps.PlanLimitExceededError,
        "PLAN_LIMIT_EXCEEDED",
    ),
    (404, {"message": "nope", "code": "NOT_FOUND"}, ps.NotFoundError, "NOT_FOUND"),
    (
        412,
        {"error": {"code": "CONTRACT_NOT_DEPLOYED", "message": "m"}},
        ps.ContractNotDeployedError,
        "CONTRACT_NOT_DEPLOYED",
    ),
    (
        429,
        {
            "error": {
                "code": "CADENCE_LIMIT",
                "message": "m",
                "retryAfterSeconds": 2,
                "customerId": "c",
            }
        },
        ps.CadenceLimitError,
        "CADENCE_LIMIT",
    ),
    (429, {"error": {"message": "slow down"}}, ps.RateLimitError, "RATE_LIMITED"),
    (503, {"error": {"message": "down"}}, ps.ServiceUnavailableError, "SERVICE_UNAVAILABLE"),
    (500, {"error": {"message": "boom"}}, ps.PacSpaceError, "API_ERROR"),
]


@pytest.mark.parametrize(("status", "body", "cls", "code"), TABLE)
async def test_status_maps_to_class(
    pac: PacSpace,
    mock_api: respx.MockRouter,
    no_sleep: list[float],
    status: int,
    body: Any,
    cls: type[ps.PacSpaceError],
    code: str,
) -> None:
    mock_api.get("/api/v1/balance/usage").respond(status, json=body, headers={"Retry-After": "3"})
    with pytest.raises(cls) as caught:
        await pac.balance.usage()
    error = caught.value
    assert type(error) is cls
    assert error.code == code and error.status_code == status
    assert error.request_path == "/api/v1/balance/usage"
    assert error.body == body
    if status in (429, 503) and code != "PLAN_LIMIT_EXCEEDED":
        assert error.retry_after is not None


async def test_list_messages_are_joined(pac: PacSpace, mock_api: respx.MockRouter) -> None:
    mock_api.get("/api/v1/balance/usage").respond(400, json={"message": ["a is bad", "b is bad"]})
    with pytest.raises(ps.ValidationError, match="a is bad; b is bad"):
        await pac.balance.usage()


async def test_cadence_limit_carries_customer_and_ms(
    pac: PacSpace, mock_api: respx.MockRouter
) -> None:
    mock_api.get("/api/v1/balance/usage").respond(
        429,
        json={
            "error": {
                "code": "CADENCE_LIMIT",
                "message": "m",
                "retryAfterSeconds": 1.5,
                "customerId": "c9",
            }
        },
    )
    with pytest.raises(ps.CadenceLimitError) as caught:
        await pac.balance.usage()
    assert caught.value.customer_id == "c9" and caught.value.retry_after_ms == 1500
    assert isinstance(caught.value, ps.RateLimitError)


@pytest.mark.parametrize("status", [200, 502])
async def test_non_json_answer_quotes_status_and_first_bytes(
    pac: PacSpace, mock_api: respx.MockRouter, no_sleep: list[float], status: int
) -> None:
    mock_api.get("/api/v1/balance/usage").respond(
        status, content=b"<html>Bad gateway from the proxy</html>"
    )
    with pytest.raises(ps.PacSpaceError) as caught:
        await pac.balance.usage()
    assert str(status) in str(caught.value) and "<html>Bad gateway" in str(caught.value)


async def test_unexpected_shape_is_a_pacspace_error_not_a_key_error(
    pac: PacSpace, mock_api: respx.MockRouter
) -> None:
    mock_api.get("/api/v1/balance/usage").respond(200, json=["not", "an", "object"])
    with pytest.raises(ps.PacSpaceError):
        await pac.balance.usage()


async def test_network_errors_chain_their_cause(
    pac: PacSpace, mock_api: respx.MockRouter, no_sleep: list[float]
) -> None:
    mock_api.get("/api/v1/balance/usage").mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(ps.APIConnectionError) as caught:
        await pac.balance.usage()
    assert isinstance(caught.value.__cause__, httpx.ConnectError)
    mock_api.get("/api/v1/balance/usage").mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(ps.APITimeoutError) as timeout:
        await pac.balance.usage()
    assert isinstance(timeout.value.__cause__, httpx.ReadTimeout)


async def test_the_key_never_shows(
    pac: PacSpace,
    mock_api: respx.MockRouter,
    caplog: pytest.LogCaptureFixture,
    no_sleep: list[float],
) -> None:
    caplog.set_level(logging.DEBUG, logger="pacspace")
    mock_api.get("/api/v1/balance/usage").respond(
        401, json={"error": {"message": f"bad key {KEY}"}}
    )
    with pytest.raises(ps.InvalidApiKeyError) as caught:
        await pac.balance.usage()
    mock_api.get("/api/v1/balance/customers").respond(503, json={})
    with pytest.raises(ps.ServiceUnavailableError):
        await pac.balance.customers()
    for text in (str(caught.value), repr(caught.value), repr(pac), caplog.text, repr(pac._config)):
        assert KEY not in text and "SECRET" not in text
    assert "pk_test_" in repr(pac)
