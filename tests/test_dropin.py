"""Code written for the official pacspace-sdk runs with only the import changed.

The Python SDK seed's snippets, in order, verbatim but for ``pacspace_sdk`` ->
``pacspace_sync``, against a loopback sandbox found through PACSPACE_API_KEY and
PACSPACE_API_BASE_URL. The prelude only supplies what the seed leaves to the reader
(a received webhook's headers and body).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from pacspace_sandbox import Sandbox, SandboxConfig, SandboxServer

SEED = """
import os
from pacspace_sdk import PacSpace
pac = PacSpace.init(
os.environ["PACSPACE_API_KEY"],
production_url="https://app.pacspace.io",
)
emit = pac.balance.emit(
"cust_acme",
-42.5,
"compute_minutes",
{
"referenceId": "usage_2026_05_001",
"metadata": {
"product": "inference",
"units": 50,
},
},
)
print(emit["recordId"])
print(emit["receiptId"])
print(emit["status"])
verified = pac.balance.emit_and_wait(
"cust_acme",
-42.5,
"compute_minutes",
{
"timeout": 30_000,
"pollInterval": 1_000,
},
)
print(verified["status"])
balance = pac.balance.derive(
"cust_acme",
{
"period": "2026-05",
},
)
print(balance["computedBalance"])
print(balance.get("deltaCount") or balance.get("deltasCount"))
pac.balance.derive_current_month("cust_acme")
pac.balance.derive_for_period("cust_acme", "2026-05")
pac.balance.derive_months_back("cust_acme", 3)
report = pac.balance.compare(
"cust_acme",
{
"yours": 95000,
"theirs": 98000,
},
{
"period": "2026-05",
},
)
print(report["neutralBalance"])
print(report["matchesYours"])
print(report["matchesTheirs"])
checkpoint = pac.balance.checkpoint(
"cust_acme",
{
"period": "2026-05",
},
)
print(checkpoint["proofRoot"])
print(checkpoint["deltaCount"])
print(checkpoint["status"])
receipt = pac.balance.receipt(
"cust_acme",
{
"period": "2026-05",
},
)
print(receipt["proofRoot"])
print(receipt.get("verifyUrl"))
print(receipt.get("verificationApiUrl"))
print(receipt.get("verificationExplorerUrl"))
customers = pac.balance.customers(
{
"search": "cust_",
"limit": 25,
},
)
customer = pac.balance.customer(
"cust_acme",
{
"period": "2026-05",
},
)
print(len(customers["customers"]))
print(customer["computedBalance"])
pac.balance.queue_summary(
{
"customerId": "cust_acme",
"delta": -100,
"reason": "daily_usage",
"referenceId": "usage_day_2026_05_27",
}
)
result = pac.balance.flush_summaries()
print(result["accepted"])
print(result["failed"])
from pacspace_sdk import Webhooks
webhooks = Webhooks(os.environ["PACSPACE_WEBHOOK_SECRET"])
event = webhooks.verify_from_headers(headers, raw_body)
if event["event"] == "delta.verified":
    print(event["data"]["receiptId"])
from pacspace_sdk import PacSpaceError, RateLimitError, ValidationError
try:
    pac.balance.emit("cust_acme", -100, "usage")
except RateLimitError as err:
    print(f"Retry after {err.retry_after} seconds")
except ValidationError as err:
    print(err)
except PacSpaceError as err:
    print(err.code)
"""

PRELUDE = """
import hashlib, hmac, json, time
raw_body = json.dumps({"event": "delta.verified", "data": {"receiptId": "rcpt_from_webhook"}})
stamp = str(int(time.time() * 1000))
headers = {"X-PacSpace-Signature": "v1=" + hmac.new(b"whsec_seed", f"{stamp}.{raw_body}".encode(), hashlib.sha256).hexdigest(),
           "X-PacSpace-Timestamp": stamp}
"""


@pytest.fixture
def pacspace_sandbox_config() -> SandboxConfig:
    return SandboxConfig(verify_latency=0.2)


def test_the_python_seed_runs_with_only_the_import_changed(
    pacspace_server: SandboxServer, pacspace_sandbox: Sandbox
) -> None:
    code = PRELUDE + SEED.replace("pacspace_sdk", "pacspace_sync")
    env = {
        **os.environ,
        "PACSPACE_API_KEY": pacspace_sandbox.api_key,
        "PACSPACE_API_BASE_URL": pacspace_server.url,
        "PACSPACE_WEBHOOK_SECRET": "whsec_seed",
    }
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout.splitlines()
    assert out[0].startswith("r_") and out[1].startswith("rcpt_") and out[2] == "QUEUED"
    assert out[3] == "VERIFIED"
    assert out[-3:] == ["1", "0", "rcpt_from_webhook"]  # flush accepted/failed, then the webhook
    store = pacspace_sandbox.ledger.store
    assert (
        store.scalar("SELECT COUNT(*) FROM deltas WHERE reference_id = 'usage_day_2026_05_27'") == 1
    )
