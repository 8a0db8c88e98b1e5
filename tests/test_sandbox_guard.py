"""A served sandbox is its owner's: it answers only the Host names it is served under
(a DNS-rebinding page gets 421), guessing the dashboard password is slowed then
refused, and it will not serve beyond loopback with the documented password."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from pacspace_cli import main
from pacspace_sandbox import Sandbox, SandboxServer
from pacspace_sandbox._config import DEFAULT_DASHBOARD_USER
from pacspace_sandbox._guard import LoginThrottle, allowed_hosts

EMAIL, PASSWORD = DEFAULT_DASHBOARD_USER


@pytest.fixture
def served() -> Iterator[SandboxServer]:
    sandbox = Sandbox(verify_latency=0)
    with sandbox.serve(allowed_hosts=["sandbox.team.internal"]) as server:
        yield server
    sandbox.close()


def test_a_rebound_host_name_gets_421_and_no_key(served: SandboxServer) -> None:
    url = served.url
    port = url.rsplit(":", 1)[1]
    evil = {"Host": f"rebind.attacker.example:{port}"}
    with httpx.Client(base_url=url) as http:
        login = http.post(
            "/dashboard/auth/login", json={"email": EMAIL, "password": PASSWORD}, headers=evil
        )
        assert login.status_code == 421
        error = login.json()
        assert error["success"] is False
        assert error["error"]["code"] == "MISDIRECTED_REQUEST"
        assert "--allowed-host rebind.attacker.example" in error["error"]["message"]
        assert "set-cookie" not in login.headers
        assert http.get("/api/v1/balance/usage", headers=evil).status_code == 421
        assert http.get("/", headers=evil).status_code == 421  # the inspector too
        for name in ("127.0.0.1", "localhost", "[::1]", "LOCALHOST", "sandbox.team.internal"):
            answer = http.get("/health", headers={"Host": f"{name}:{port}"})
            assert answer.status_code == 200, name
        assert http.post(
            "/dashboard/auth/login", json={"email": EMAIL, "password": PASSWORD}
        ).is_success


def test_allowed_hosts_are_loopback_the_bound_name_and_the_extra_ones() -> None:
    assert allowed_hosts("127.0.0.1") == {"127.0.0.1", "localhost", "::1"}
    assert "box.lan" in allowed_hosts("box.lan")
    assert "0.0.0.0" not in allowed_hosts("0.0.0.0", ["Box.Lan"])
    assert "box.lan" in allowed_hosts("0.0.0.0", ["Box.Lan"])


def test_wrong_passwords_are_slowed_then_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(LoginThrottle, "FIRST_DELAY", 0.02)
    sandbox = Sandbox(verify_latency=0)
    try:
        with sandbox.serve() as server, httpx.Client(base_url=server.url) as http:
            took = []
            for _ in range(LoginThrottle.LIMIT):
                started = time.monotonic()
                answer = http.post(
                    "/dashboard/auth/login", json={"email": EMAIL, "password": "guess"}
                )
                took.append(time.monotonic() - started)
                assert answer.status_code == 401
            # the first few cost nothing extra, then each waits twice the last
            for n in range(LoginThrottle.FREE + 1, LoginThrottle.LIMIT + 1):
                assert took[n - 1] >= 0.02 * 2 ** (n - LoginThrottle.FREE - 1) * 0.9, (n, took)
            locked = http.post("/dashboard/auth/login", json={"email": EMAIL, "password": PASSWORD})
            assert locked.status_code == 429  # even the right password, for a while
            assert locked.json()["error"]["code"] == "TOO_MANY_LOGINS"
            assert 1 <= int(locked.headers["retry-after"]) <= LoginThrottle.LOCKOUT
    finally:
        sandbox.close()


def test_the_lockout_ends_and_a_success_clears_the_count() -> None:
    now = [1000.0]
    throttle = LoginThrottle(clock=lambda: now[0])
    for _ in range(LoginThrottle.LIMIT):
        throttle.failed("10.0.0.1")
    assert throttle.locked_for("10.0.0.1") == LoginThrottle.LOCKOUT
    assert throttle.locked_for("10.0.0.2") == 0  # per client
    now[0] += LoginThrottle.LOCKOUT + 1
    assert throttle.locked_for("10.0.0.1") == 0
    assert throttle.failed("10.0.0.1") == 0  # counting from zero again
    throttle.succeeded("10.0.0.1")
    assert throttle.locked_for("10.0.0.1") == 0


def test_the_sandbox_will_not_serve_beyond_loopback_with_the_documented_password(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["sandbox", "--host", "0.0.0.0", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert "refusing to serve on 0.0.0.0" in err and "--dashboard-user" in err
