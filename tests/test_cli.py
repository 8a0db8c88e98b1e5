"""The ``pacspace`` command as a user runs it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx


def test_demo_runs_the_basic_recordation_flow() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PACSPACE_")}
    result = subprocess.run(
        [sys.executable, "-m", "pacspace_cli", "demo"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert out.count("units  -> r_") == 3
    assert "3/3 verified" in out
    assert "Balance for customer_acme: -500 across 3 verified deltas" in out
    assert "Agreement confirmed: both sides agree on -500" in out
    assert "proof root 0x" in out and "Period closes on the verified record." in out


def test_sandbox_command_serves_and_stops_on_ctrl_c(unused_tcp_port: int) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pacspace_cli",
            "sandbox",
            "--port",
            str(unused_tcp_port),
            "--api-key",
            "pk_test_cli.key",
            "--verify-latency",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{unused_tcp_port}"
        for _ in range(100):
            try:
                response = httpx.get(
                    f"{url}/api/v1/balance/usage", headers={"X-Api-Key": "pk_test_cli.key"}
                )
                break
            except httpx.ConnectError:
                time.sleep(0.05)
        assert response.status_code == 200
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=10)
    assert process.returncode == 0, err
    assert url in out and "pk_test_cli.key" in out and "Traceback" not in err
