"""The inspector in a real browser: Playwright driving Debian's Chromium, headless, against
a sandbox on loopback, fed through the SDK.

The sandbox's clock is injected: a delta turns VERIFIED when the test moves the clock, and
the page must show it by itself (its live updates), without a reload. Skipped with the
reason where there is no browser; ``.ci/run`` installs Chromium and sets
``PACSPACE_REQUIRE_BROWSER=1``, which turns the skip into a failure. A failing test leaves
a screenshot in ``test-artifacts/``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from pacspace_sandbox import Sandbox, SandboxServer
from pacspace_sync import PacSpace

from ._browser import CHROMIUM_FLAGS, chromium_path
from ._bulk import seed_deltas
from ._clock import Clock

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

ARTIFACTS = Path(__file__).parent.parent / "test-artifacts"
USER = ("you@example.com", "your-secure-password")


def _chromium() -> str:
    """The browser to drive, or a skip (a failure under CI) saying what is missing."""
    required = os.environ.get("PACSPACE_REQUIRE_BROWSER") == "1"
    problem = None
    try:
        import playwright.sync_api  # noqa: F401
    except ModuleNotFoundError:
        problem = 'Playwright is not installed (pip install -e ".[dev]")'
    path = chromium_path()
    if problem is None and path is None:
        problem = "no Chromium on this machine (apt-get install chromium)"
    if problem is not None:
        if required:
            pytest.fail(f"PACSPACE_REQUIRE_BROWSER=1 but {problem}")
        pytest.skip(problem)
    assert path is not None
    return path


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    path = _chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=path, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def clock() -> Clock:
    return Clock(1_796_000_000.0)  # 2026-11-30


@pytest.fixture
def hooks() -> list[httpx.Request]:
    return []


@pytest.fixture
def server(clock: Clock, hooks: list[httpx.Request]) -> Iterator[SandboxServer]:
    def receive(request: httpx.Request) -> httpx.Response:
        hooks.append(request)
        return httpx.Response(200)

    sandbox = Sandbox(
        verify_latency=2.0,
        latency_jitter=0.0,
        clock=clock,
        webhook_url="http://hooks.test/pacspace",
        webhook_secret="whsec_browser",
        webhook_transport=httpx.MockTransport(receive),
    )
    with sandbox.serve() as running:
        yield running
    sandbox.close()


@pytest.fixture
def client(server: SandboxServer) -> Iterator[PacSpace]:
    pac = PacSpace(server.sandbox.api_key, base_url=server.url)
    yield pac
    pac.close()


@pytest.fixture
def page(
    chromium: Browser, server: SandboxServer, request: pytest.FixtureRequest
) -> Iterator[Page]:
    context = chromium.new_context(
        base_url=server.url, accept_downloads=True, viewport={"width": 1280, "height": 800}
    )
    context.set_default_timeout(10_000)
    tab = context.new_page()
    yield tab
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / f"{request.node.name}.png"
        tab.screenshot(path=str(shot), full_page=True)
        print(f"screenshot: {shot}")
    context.close()


def log_in(page: Page, path: str = "/") -> None:
    page.goto(path)
    assert page.url.endswith("/login?next=" + path.replace("/", "%2F"))
    page.get_by_label("E-mail").fill(USER[0])
    page.get_by_label("Password").fill(USER[1])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(re.escape(path) + "$"))


def test_log_in_then_watch_a_delta_turn_verified_without_a_reload(
    page: Page, client: PacSpace, clock: Clock
) -> None:
    log_in(page)
    client.balance.emit(
        customer_id="cust_browser", delta="12.50", reason="api_call", reference_id="job-1"
    )
    # The customers list picks the new customer up by itself.
    page.get_by_role("link", name="cust_browser").click()
    page.wait_for_url("**/customers/cust_browser")
    row = page.locator("#deltas tbody tr").first
    assert row.locator(".status").inner_text() == "QUEUED"
    assert "12.5" in row.inner_text() and "job-1" in row.inner_text()
    page.evaluate("window.__sameDocument = true")

    clock.now += 2.5  # the sandbox verifies it now
    row.locator(".status", has_text="VERIFIED").wait_for()
    page.locator("#balance", has_text="12.50").wait_for()
    assert page.evaluate("window.__sameDocument") is True, "the page was reloaded"


def test_redeliver_a_webhook(
    page: Page, client: PacSpace, clock: Clock, hooks: list[httpx.Request]
) -> None:
    client.balance.emit(customer_id="cust_hooks", delta=1, reason="api_call")
    clock.now += 2.5
    client.balance.emit(customer_id="cust_hooks", delta=1, reason="api_call")  # wakes delivery
    log_in(page, "/webhooks")
    page.locator("#deliveries .status", has_text="delivered").first.wait_for()
    sent = len(hooks)
    first = page.locator("#deliveries tbody tr[data-event]").first
    event_id = first.get_attribute("data-event")
    first.get_by_role("button", name="Redeliver").click()
    page.get_by_role("status").filter(has_text=f"Redelivering {event_id}").wait_for()
    for _ in range(200):  # the sandbox's delivery task sends it as soon as it is woken
        if len(hooks) > sent:
            break
        page.wait_for_timeout(25)
    assert hooks[-1].headers["x-event-id"] == event_id
    # The signed payload is one click away (that event's row: a live refresh may put
    # another delivery first, and keeps an open one open).
    details = page.locator(f'#deliveries tr[data-event="{event_id}"] + tr details')
    details.locator("summary").click()
    details.locator("pre.headers", has_text="X-PacSpace-Signature: v1=").wait_for()


def test_a_customer_with_100_000_deltas_pages_and_still_updates_live(
    page: Page, client: PacSpace, clock: Clock, server: SandboxServer
) -> None:
    client.balance.emit(customer_id="cust_big", delta=-1, reason="usage")
    clock.now += 3
    seed_deltas(server.sandbox, "cust_big", 100_000, clock.now)
    log_in(page, "/customers/cust_big")
    cards = page.locator("dl.cards")
    assert "100001" in cards.inner_text().replace(",", "")  # every delta, counted once
    page.locator("#balance", has_text="-150001").wait_for()
    first = page.locator("#deltas tbody tr").first
    assert first.locator("td").first.inner_text() == "100001"  # newest first
    page.get_by_role("link", name="Older →").first.click()
    page.wait_for_url(re.compile(r"page=2$"))
    assert page.locator("#deltas tbody tr").first.locator("td").first.inner_text() == "99951"
    page.get_by_role("link", name="← Newer").first.click()
    page.wait_for_url(re.compile(r"page=1$"))
    assert page.locator("#deltas tbody tr").first.locator("td").first.inner_text() == "100001"
    page.evaluate("window.__sameDocument = true")

    client.balance.emit(customer_id="cust_big", delta="-2.5", reason="usage", reference_id="new")
    newest = page.locator("#deltas tbody tr").first
    newest.locator("td", has_text="100002").wait_for()
    assert newest.locator(".status").inner_text() == "QUEUED"
    clock.now += 2.5
    newest.locator(".status", has_text="VERIFIED").wait_for()
    page.locator("#balance", has_text="-150003.5").wait_for()
    assert page.evaluate("window.__sameDocument") is True, "the page was reloaded"


def test_download_a_receipt(page: Page, client: PacSpace) -> None:
    answer = client.balance.emit(customer_id="cust_pdf", delta=3, reason="api_call")
    log_in(page, "/customers/cust_pdf")
    with page.expect_download() as download:
        page.get_by_role("link", name="PDF").first.click()
    saved = download.value
    assert saved.suggested_filename == f"{answer.receipt_id}.pdf"
    assert Path(saved.path()).read_bytes().startswith(b"%PDF-")


def test_everything_but_live_updates_works_with_javascript_off(
    chromium: Browser, server: SandboxServer, client: PacSpace, hooks: list[httpx.Request]
) -> None:
    context = chromium.new_context(base_url=server.url, java_script_enabled=False)
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        log_in(page, "/webhooks")
        page.get_by_role("button", name="Send a sample event").click()
        page.get_by_role("status").filter(has_text="Sent a sample delta.verified").wait_for()
        client.balance.emit(customer_id="cust_nojs", delta=2, reason="api_call")
        page.goto("/")
        page.get_by_role("link", name="cust_nojs").click()
        assert page.locator("#deltas .status").first.inner_text() == "QUEUED"
        # The live-update script did not run (it marks <html> when it does).
        assert page.locator("html[data-live-updates]").count() == 0
    finally:
        context.close()
