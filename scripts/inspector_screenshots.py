"""The README's pictures of the sandbox inspector, taken from a live loopback sandbox.

    python -m scripts.inspector_screenshots            # writes docs/inspector-*.png

Fills a sandbox through the SDK (customers, deltas still QUEUED and VERIFIED, a replay, a
checkpoint, usage summaries, webhook deliveries), then photographs each page in headless
Chromium (Debian's ``chromium``, driven by Playwright). Talks to 127.0.0.1 only.
"""

from __future__ import annotations

import sys
from pathlib import Path

import httpx

from pacspace_sandbox import Sandbox
from pacspace_sync import PacSpace
from tests._browser import CHROMIUM_FLAGS, chromium_path

OUT = Path(__file__).parent.parent / "docs"
PAGES = [
    ("customers", "/"),
    ("customer", "/customers/cust_acme?timePreset=current_month"),
    ("summaries", "/summaries"),
    ("webhooks", "/webhooks"),
    ("usage", "/usage"),
]


class Clock:
    def __init__(self) -> None:
        self.now = 1_796_000_000.0  # 2026-11-30

    def __call__(self) -> float:
        return self.now


def fill(client: PacSpace, clock: Clock) -> None:
    balance = client.balance
    for n, (customer, amount, reason) in enumerate(
        [
            ("cust_acme", "120.00", "api_call"),
            ("cust_acme", "-15.50", "credit"),
            ("cust_acme", "42.25", "gpu_burst_capacity"),
            ("cust_globex", "9.99", "api_call"),
            ("cust_initech", "250", "storage_gb_month"),
        ]
    ):
        balance.emit(customer, amount, reason, reference_id=f"job-{n:04d}")
        clock.now += 60
    balance.emit("cust_acme", "120.00", "api_call", reference_id="job-0000")  # a replay
    for name, amount in [("tokens", "1804.5"), ("calls", "312")]:
        balance.queue_summary(
            {
                "customerId": "cust_acme",
                "delta": amount,
                "reason": name,
                "windowStart": "2026-11-29T00:00:00Z",
                "windowEnd": "2026-11-30T00:00:00Z",
            }
        )
    balance.flush_summaries()
    clock.now += 120  # everything so far is verified
    balance.checkpoint("cust_acme", time_preset="current_month")
    balance.emit("cust_acme", "3.75", "api_call", reference_id="job-0100")
    balance.emit("cust_globex", "1.25", "api_call", reference_id="job-0101")


def main() -> int:
    chromium = chromium_path()
    if chromium is None:
        print("needs Debian's chromium: apt-get install chromium", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    clock = Clock()
    failing = {"count": 0}

    def receive(request: httpx.Request) -> httpx.Response:
        failing["count"] += 1
        return httpx.Response(500 if failing["count"] == 3 else 200)

    sandbox = Sandbox(
        verify_latency=2.0,
        latency_jitter=0.0,
        clock=clock,
        plan_limit=100,
        webhook_url="http://127.0.0.1:8000/webhooks/pacspace",
        webhook_secret="whsec_screenshots",
        webhook_transport=httpx.MockTransport(receive),
    )
    OUT.mkdir(exist_ok=True)
    with sandbox.serve() as server:
        client = PacSpace(sandbox.api_key, base_url=server.url)
        fill(client, clock)
        client.close()
        with sync_playwright() as driver:
            browser = driver.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
            page = browser.new_page(base_url=server.url, viewport={"width": 1280, "height": 720})
            page.goto("/login")
            page.get_by_label("E-mail").fill("you@example.com")
            page.get_by_label("Password").fill("your-secure-password")
            page.get_by_role("button", name="Log in").click()
            page.wait_for_url("**/")
            page.wait_for_timeout(1500)  # let the webhook deliveries land
            for name, path in PAGES:
                page.goto(path)
                if name == "webhooks":
                    page.locator("#deliveries details summary").first.click()
                target = OUT / f"inspector-{name}.png"
                page.screenshot(path=str(target), full_page=True)
                print(target)
            browser.close()
    sandbox.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
