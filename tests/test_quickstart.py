"""The quick start guide's curl steps 2-6, verbatim but for the base URL, against the sandbox."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from pacspace_sandbox import Sandbox, SandboxConfig, SandboxServer


@pytest.fixture
def pacspace_sandbox_config() -> SandboxConfig:
    return SandboxConfig(verify_latency=0.0)


def run(command: str, cwd: Path, base: str) -> dict[str, object]:
    result = subprocess.run(
        ["bash", "-c", command],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=30,
        env={"PATH": "/usr/bin:/bin", "PACSPACE_API_BASE_URL": base},
    )
    assert result.returncode == 0, result.stderr
    answer: dict[str, object] = json.loads(result.stdout)
    return answer


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_quick_start_curl_steps(
    pacspace_server: SandboxServer, pacspace_sandbox: Sandbox, tmp_path: Path
) -> None:
    base = pacspace_server.url
    login = run(
        f"""curl -s -X POST {base}/dashboard/auth/login \\
  -c pacspace-dashboard-cookies.txt \\
  -H "Content-Type: application/json" \\
  -d '{{
    "email": "you@example.com",
    "password": "your-secure-password"
  }}'""",
        tmp_path,
        base,
    )
    assert login["success"] is True
    created = run(
        f"""curl -s -X POST {base}/dashboard/api-keys \\
  -b pacspace-dashboard-cookies.txt \\
  -H "X-Pacspace-CSRF: 1" \\
  -H "Content-Type: application/json" \\
  -d '{{
    "name": "quickstart-key"
  }}'""",
        tmp_path,
        base,
    )
    key = created["data"]["key"]  # type: ignore[index]
    assert key.startswith("pk_test_") and "." in key
    environments = run(
        f"curl -s {base}/dashboard/environments -b pacspace-dashboard-cookies.txt", tmp_path, base
    )
    assert environments["data"]["environments"][0]["status"] == "active"  # type: ignore[index]
    no_csrf = run(
        f"""curl -s -X POST {base}/dashboard/api-keys -b pacspace-dashboard-cookies.txt \\
  -H "Content-Type: application/json" -d '{{"name": "x"}}'""",
        tmp_path,
        base,
    )
    assert no_csrf["error"]["code"] == "CSRF_REQUIRED"  # type: ignore[index]
    no_session = run(
        f"""curl -s -X POST {base}/dashboard/api-keys -H "X-Pacspace-CSRF: 1" -d '{{}}'""",
        tmp_path,
        base,
    )
    assert no_session["error"]["code"] == "NOT_AUTHENTICATED"  # type: ignore[index]

    steps = [
        f"""curl -s -X POST "$PACSPACE_API_BASE_URL/api/v1/balance/delta" \\
  -H "X-Api-Key: {key}" \\
  -H "Content-Type: application/json" \\
  -d '{{
    "customerId": "customer_001",
    "delta": 100.00,
    "reason": "initial-deposit",
    "referenceId": "txn-quickstart-001",
    "metadata": {{
      "source": "quickstart-guide",
      "note": "First delta!"
    }}
  }}'""",
        f"""curl -s "$PACSPACE_API_BASE_URL/api/v1/balance/derive/customer_001" \\
  -H "X-Api-Key: {key}\"""",
        f"""curl -s -X POST "$PACSPACE_API_BASE_URL/api/v1/balance/compare" \\
  -H "X-Api-Key: {key}" \\
  -H "Content-Type: application/json" \\
  -d '{{
    "yourBalance": 100.00,
    "theirBalance": 100.00,
    "startingBalance": 0
  }}'""",
        f"""curl -s -X POST "$PACSPACE_API_BASE_URL/api/v1/balance/checkpoint" \\
  -H "X-Api-Key: {key}" \\
  -H "Content-Type: application/json" \\
  -d '{{
    "customerId": "customer_001"
  }}'""",
    ]
    emitted = run(steps[0], tmp_path, base)
    assert emitted["data"]["receiptId"]  # type: ignore[index]
    time.sleep(0.01)
    derived = run(steps[1], tmp_path, base)
    assert derived["data"]["computedBalance"] == 100.00  # type: ignore[index]
    compared = run(steps[2], tmp_path, base)
    assert compared["data"]["matchesYours"] is True and compared["data"]["matchesTheirs"] is True  # type: ignore[index]
    checkpoint = run(steps[3], tmp_path, base)
    assert str(checkpoint["data"]["proofRoot"]).startswith("0x")  # type: ignore[index]
    access = run(
        f"""curl -s -X POST {base}/dashboard/auth/request-access \\
  -H "Content-Type: application/json" \\
  -d '{{"name": "Jane Doe", "email": "you@example.com", "organization": "Acme Inc",
        "buyerMode": "DIRECT_INFERENCE_VENDOR", "useCase": "Record usage before invoices go out."}}'""",
        tmp_path,
        base,
    )
    assert access["success"] is True
