"""The sandbox inspector over HTTP, in-process: login, CSRF, what each page shows.

The browser tests (tests/test_inspector_browser.py) drive the same pages in Chromium;
these pin the rules a browser cannot see break: redirects, refusals, escaping, counts.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from pacspace_sandbox import IN_PROCESS_URL, Sandbox

from ._clock import Clock

USER = {"email": "you@example.com", "password": "your-secure-password"}
SUMMARY_META = {
    "summaryWindowStart": "2026-12-01T00:00:00.000Z",
    "summaryWindowEnd": "2026-12-02T00:00:00.000Z",
    "summaryProfile": "daily",
    "submissionType": "tenant_summary",
}
HOOK = "http://hooks.test/pacspace"


@pytest.fixture
def clock() -> Clock:
    return Clock(1_796_000_000.0)  # 2026-11-30


@pytest.fixture
def received() -> list[httpx.Request]:
    return []


@pytest.fixture
async def sandbox(clock: Clock, received: list[httpx.Request]) -> AsyncIterator[Sandbox]:
    def hook(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(200)

    box = Sandbox(
        verify_latency=2.0,
        latency_jitter=0.0,
        clock=clock,
        webhook_url=HOOK,
        webhook_secret="whsec_inspector",
        webhook_transport=httpx.MockTransport(hook),
    )
    yield box
    await box.aclose()
    box.close()


@pytest.fixture
async def browser(sandbox: Sandbox) -> AsyncIterator[httpx.AsyncClient]:
    """A logged-out visitor (cookies kept, redirects not followed)."""
    async with httpx.AsyncClient(transport=sandbox.transport(), base_url=IN_PROCESS_URL) as client:
        yield client


async def login(client: httpx.AsyncClient) -> None:
    answer = await client.post("/login", data={**USER, "next": "/"})
    assert answer.status_code == 303, answer.text


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf" value="([0-9a-f]{32})"', page)
    assert match, "the page carries no CSRF token"
    return match.group(1)


async def emit(client: httpx.AsyncClient, key: str, **body: Any) -> httpx.Response:
    body.setdefault("customerId", "cust_acme")
    body.setdefault("reason", "api_call")
    answer = await client.post("/api/v1/balance/delta", json=body, headers={"x-api-key": key})
    assert answer.status_code in (200, 201), answer.text
    return answer


async def test_pages_need_the_dashboard_login(browser: httpx.AsyncClient) -> None:
    for path in ("/", "/customers/cust_acme", "/summaries", "/webhooks", "/usage"):
        answer = await browser.get(path + "?x=1")
        assert answer.status_code == 303
        assert answer.headers["location"] == "/login?next=" + (path + "?x=1").replace(
            "/", "%2F"
        ).replace("?", "%3F").replace("=", "%3D")
    # A live refresh while logged out is refused, not redirected to a login page.
    assert (await browser.get("/?fragment=customers")).status_code == 401
    assert (await browser.get("/inspector/receipts/rcpt_x.pdf")).status_code == 303


async def test_login_sets_the_dashboards_cookie_and_returns_to_the_page(
    browser: httpx.AsyncClient,
) -> None:
    wrong = await browser.post("/login", data={"email": USER["email"], "password": "nope"})
    assert wrong.status_code == 401
    assert "incorrect" in wrong.text
    answer = await browser.post("/login", data={**USER, "next": "/usage"})
    assert answer.status_code == 303 and answer.headers["location"] == "/usage"
    cookie = answer.headers["set-cookie"]
    assert "pacspace_session=" in cookie and "httponly" in cookie.lower()
    assert "samesite=lax" in cookie.lower()
    assert (await browser.get("/usage")).status_code == 200
    # The same session opens the dashboard's JSON routes: one login.
    assert (await browser.get("/dashboard/environments")).status_code == 200


@pytest.mark.parametrize(
    "target", ["//evil.example/", "https://evil.example/", "/\\evil.example", "evil"]
)
async def test_login_never_redirects_off_the_sandbox(
    browser: httpx.AsyncClient, target: str
) -> None:
    answer = await browser.post("/login", data={**USER, "next": target})
    assert answer.headers["location"] == "/"


async def test_logout_ends_the_session(browser: httpx.AsyncClient) -> None:
    await login(browser)
    token = csrf_of((await browser.get("/")).text)
    answer = await browser.post("/logout", data={"csrf": token})
    assert answer.status_code == 303 and answer.headers["location"] == "/login"
    assert (await browser.get("/")).status_code == 303


async def test_customers_show_verified_balance_pending_and_search(
    browser: httpx.AsyncClient, sandbox: Sandbox, clock: Clock
) -> None:
    await login(browser)
    await emit(browser, sandbox.api_key, delta=10.25, referenceId="a")
    clock.now += 3
    await emit(browser, sandbox.api_key, delta=-0.25, referenceId="b")
    await emit(browser, sandbox.api_key, customerId="cust_other", delta=1)
    page = (await browser.get("/")).text
    row = re.search(r'<a href="/customers/cust_acme">.*?</tr>', page, re.S)
    assert row is not None
    cells = re.findall(r'<td class="num">(.*?)</td>', row.group(0), re.S)
    assert cells[0] == "10.25"  # verified
    assert cells[1].startswith("-0.25")  # pending, one delta
    assert cells[2] == "2"
    found = (await browser.get("/", params={"q": "OTHER"})).text
    assert "cust_other" in found and "cust_acme" not in found


async def test_a_customer_page_lists_deltas_newest_first_with_replays_marked(
    browser: httpx.AsyncClient, sandbox: Sandbox, clock: Clock
) -> None:
    await login(browser)
    key = sandbox.api_key
    await emit(browser, key, delta=1, referenceId="first")
    await emit(browser, key, delta=2, referenceId="second")
    await emit(browser, key, delta=1, referenceId="first")  # replayed by referenceId
    headers = {"x-api-key": key, "idempotency-key": "k-1"}
    for _ in range(2):  # replayed by Idempotency-Key
        await browser.post(
            "/api/v1/balance/delta",
            json={"customerId": "cust_acme", "delta": 3, "reason": "x", "referenceId": "third"},
            headers=headers,
        )
    page = (await browser.get("/customers/cust_acme")).text
    assert page.index("<code>third</code>") < page.index("<code>second</code>")
    assert page.index("<code>second</code>") < page.index("<code>first</code>")
    assert '<code>first</code> <span class="badge"' in page and "replayed ×1" in page
    assert page.count("replayed ×") == 2
    assert page.count("QUEUED") == 3
    clock.now += 2.5
    live = (await browser.get("/customers/cust_acme", params={"fragment": "activity"})).text
    assert "<html" not in live and live.count("VERIFIED") == 3
    assert '<dd id="balance">6</dd>' in live


async def test_the_derive_form_uses_the_ledgers_rules(
    browser: httpx.AsyncClient, sandbox: Sandbox, clock: Clock
) -> None:
    await login(browser)
    await emit(browser, sandbox.api_key, delta=4.5, referenceId="a")
    clock.now += 3
    page = (await browser.get("/customers/cust_acme", params={"timePreset": "current_month"})).text
    derived = re.search(r'<dl class="cards" id="derived">.*?</dl>', page, re.S)
    assert derived is not None and "<dd>4.5</dd>" in derived.group(0)
    wrong = (await browser.get("/customers/cust_acme", params={"period": "2026-13"})).text
    assert "period: must be YYYY-MM" in wrong


async def test_checkpoints_show_their_proof_root(
    browser: httpx.AsyncClient, sandbox: Sandbox, clock: Clock
) -> None:
    await login(browser)
    await emit(browser, sandbox.api_key, delta=1, referenceId="a")
    clock.now += 3
    made = await browser.post(
        "/api/v1/balance/checkpoint",
        json={"customerId": "cust_acme"},
        headers={"x-api-key": sandbox.api_key},
    )
    root = made.json()["data"]["proofRoot"]
    page = (await browser.get("/customers/cust_acme")).text
    assert f'href="/verify/{root}"' in page


async def test_a_receipt_downloads_as_a_pdf(browser: httpx.AsyncClient, sandbox: Sandbox) -> None:
    await login(browser)
    receipt = (await emit(browser, sandbox.api_key, delta=1)).json()["data"]["receiptId"]
    answer = await browser.get(f"/inspector/receipts/{receipt}.pdf")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/pdf"
    assert answer.headers["content-disposition"] == f'attachment; filename="{receipt}.pdf"'
    assert answer.content.startswith(b"%PDF-")
    assert (await browser.get("/inspector/receipts/rcpt_none.pdf")).status_code == 404


async def test_summaries_group_by_customer_reason_and_window(
    browser: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    await login(browser)

    async def batch(*items: dict[str, Any]) -> None:
        answer = await browser.post(
            "/api/v1/balance/delta/batch",
            json={"deltas": list(items)},
            headers={"x-api-key": sandbox.api_key},
        )
        assert answer.status_code == 200

    one = {"customerId": "cust_acme", "reason": "tokens", "metadata": SUMMARY_META}
    await batch({**one, "delta": 5, "referenceId": "w1"})
    await batch({**one, "delta": 5, "referenceId": "w1"})  # the same slice, re-sent
    await batch({**one, "delta": 2, "referenceId": "w1-late"})  # a late slice
    await batch({**one, "reason": "calls", "delta": 7, "referenceId": "w1-calls"})
    await emit(browser, sandbox.api_key, delta=100)  # not a summary
    page = (await browser.get("/summaries")).text
    rows = re.findall(r"<tr>\s*<td><a href=\"/customers/cust_acme\">.*?</tr>", page, re.S)
    assert len(rows) == 2
    tokens = next(r for r in rows if "<td>tokens</td>" in r)
    cells = re.findall(r'<td class="num">(.*?)</td>', tokens, re.S)
    assert cells[0] == '<span class="badge">2</span>'  # slices
    assert cells[1] == "1"  # replays
    assert cells[2] == "7"  # amount
    calls = next(r for r in rows if "<td>calls</td>" in r)
    assert "arrived once" in calls
    assert "100" not in page


async def test_webhooks_show_the_signed_payload_and_redeliver(
    browser: httpx.AsyncClient, sandbox: Sandbox, clock: Clock, received: list[httpx.Request]
) -> None:
    await login(browser)
    await emit(browser, sandbox.api_key, delta=1, referenceId="a")
    clock.now += 3
    sandbox.ledger.deliveries.kick()
    await _delivered(sandbox, 1)
    page = (await browser.get("/webhooks")).text
    first = received[0]
    assert f"X-PacSpace-Signature: {first.headers['x-pacspace-signature']}" in page
    assert f"X-PacSpace-Timestamp: {first.headers['x-pacspace-timestamp']}" in page
    assert "whsec_inspector" not in page  # the secret is never shown
    assert "&#34;event&#34;: &#34;delta.verified&#34;" in page  # the payload, escaped
    event_id = first.headers["x-event-id"]
    token = csrf_of(page)
    answer = await browser.post(
        f"/inspector/webhooks/{event_id}/redeliver", data={"csrf": token, "next": "/webhooks"}
    )
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/webhooks?notice=Redelivering")
    await _delivered(sandbox, 2)
    assert received[1].headers["x-event-id"] == event_id
    missing = await browser.post("/inspector/webhooks/evt_none/redeliver", data={"csrf": token})
    assert missing.status_code == 404


async def test_a_sample_event_goes_to_the_configured_url(
    browser: httpx.AsyncClient, sandbox: Sandbox, received: list[httpx.Request]
) -> None:
    await login(browser)
    token = csrf_of((await browser.get("/webhooks")).text)
    answer = await browser.post(
        "/inspector/webhooks/sample",
        data={"csrf": token, "event": "checkpoint.verified", "next": "/webhooks"},
    )
    assert answer.status_code == 303
    await _delivered(sandbox, 1)
    assert str(received[0].url) == HOOK
    assert received[0].headers["x-webhook-event"] == "checkpoint.verified"
    unknown = await browser.post(
        "/inspector/webhooks/sample", data={"csrf": token, "event": "nope"}
    )
    assert unknown.status_code == 400


async def test_without_a_webhook_url_the_sample_button_says_how_to_configure() -> None:
    box = Sandbox()
    async with httpx.AsyncClient(transport=box.transport(), base_url=IN_PROCESS_URL) as client:
        await login(client)
        page = (await client.get("/webhooks")).text
        assert "--webhook-url" in page and "Send a sample event" not in page
        answer = await client.post(
            "/inspector/webhooks/sample", data={"csrf": csrf_of(page), "event": "delta.verified"}
        )
        assert answer.status_code == 409 and "--webhook-url" in answer.text
    box.close()


@pytest.mark.parametrize(
    "proof",
    [{}, {"csrf": "0" * 32}, {"csrf": ""}],
    ids=["no token", "wrong token", "empty token"],
)
async def test_cookie_authenticated_writes_need_the_csrf_proof(
    browser: httpx.AsyncClient, received: list[httpx.Request], proof: dict[str, str]
) -> None:
    await login(browser)
    for path in ("/inspector/webhooks/sample", "/logout"):
        answer = await browser.post(path, data={"event": "delta.verified", **proof})
        assert answer.status_code == 403, path
    # The header the dashboard's scripts send is the other accepted proof.
    answer = await browser.post(
        "/inspector/webhooks/sample",
        data={"event": "delta.verified"},
        headers={"X-Pacspace-CSRF": "1"},
    )
    assert answer.status_code == 303
    # And the dashboard's JSON write takes the form token's absence as before: refused.
    refused = await browser.post("/dashboard/api-keys", json={"name": "x"})
    assert refused.status_code == 403


async def test_what_users_recorded_is_escaped(browser: httpx.AsyncClient, sandbox: Sandbox) -> None:
    await login(browser)
    nasty = '<script>alert("x")</script>'
    await emit(browser, sandbox.api_key, customerId=nasty, delta=1, reason=nasty, referenceId=nasty)
    for path in ("/", "/customers/" + nasty):
        page = (await browser.get(path)).text
        assert nasty not in page
        assert "&lt;script&gt;" in page


async def test_every_asset_is_served_by_the_sandbox(browser: httpx.AsyncClient) -> None:
    await login(browser)
    for path in ("/inspector/static/inspector.css", "/inspector/static/inspector.js"):
        answer = await browser.get(path)
        assert answer.status_code == 200 and answer.text
    package = Path(__file__).parent.parent / "pacspace_sandbox" / "_inspector"
    for file in [*package.glob("templates/*.html"), *package.glob("static/*")]:
        text = file.read_text()
        # Nothing from the network: no absolute URL to load (links to docs are fine).
        assert not re.search(r'(src|href)="(https?:)?//', text), file.name
        assert "@import" not in text and "url(http" not in text, file.name


async def test_usage_against_the_plan_limit(browser: httpx.AsyncClient) -> None:
    box = Sandbox(plan_limit=4, verify_latency=0)
    async with httpx.AsyncClient(transport=box.transport(), base_url=IN_PROCESS_URL) as client:
        await login(client)
        for n in range(3):
            await emit(client, box.api_key, delta=1, referenceId=str(n))
        page = (await client.get("/usage")).text
        assert '<dd id="used">3 / 4</dd>' in page
        assert 'value="75"' in page
        await emit(client, box.api_key, delta=1, referenceId="3")
        assert "402 PLAN_LIMIT_EXCEEDED" in (await client.get("/usage")).text
    box.close()


def test_a_db_written_before_the_inspector_opens_with_its_columns(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.executescript(
        """
        CREATE TABLE deltas (seq INTEGER PRIMARY KEY AUTOINCREMENT, record_id TEXT NOT NULL
            UNIQUE, receipt_id TEXT NOT NULL UNIQUE, customer_id TEXT NOT NULL,
            sequence_number INTEGER NOT NULL, amount TEXT NOT NULL, reason TEXT NOT NULL,
            reference_id TEXT, metadata TEXT, adjusts TEXT, created_at REAL NOT NULL,
            verify_at REAL NOT NULL, outcome TEXT NOT NULL, content_hash TEXT NOT NULL,
            UNIQUE (customer_id, reference_id));
        CREATE TABLE webhook_events (event_id TEXT PRIMARY KEY, event TEXT NOT NULL,
            payload TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT, created_at REAL NOT NULL, next_attempt_at REAL NOT NULL,
            delivered_at REAL);
        INSERT INTO deltas VALUES (1, 'r_1', 'rcpt_1', 'cust', 1, '2', 'x', 'a', NULL, NULL,
            1.0, 2.0, 'VERIFIED', 'h');
        """
    )
    db.commit()
    db.close()
    box = Sandbox(db=str(path))
    row = box.ledger.store.delta_by("record_id", "r_1")
    assert row is not None and row["replays"] == 0
    box.close()


async def _delivered(sandbox: Sandbox, count: int) -> None:
    """Let the sandbox's delivery task send ``count`` deliveries in all (no sleeping on
    the clock: the task sends what is due as soon as it is woken)."""
    import anyio

    store = sandbox.ledger.store
    with anyio.fail_after(5):
        # The store has nothing to wait on: look again after each turn of the loop.
        while store.scalar("SELECT COALESCE(SUM(attempts), 0) FROM webhook_events") < count:  # noqa: ASYNC110
            await anyio.sleep(0.01)


def test_open_waits_for_the_server_then_opens_the_inspector(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import threading
    import webbrowser
    from types import SimpleNamespace

    from pacspace_cli._serve import _open_when_serving

    opened: list[str] = []
    done = threading.Event()

    def fake_open(url: str) -> bool:
        opened.append(url)
        done.set()
        return True

    monkeypatch.setattr(webbrowser, "open", fake_open)
    server = SimpleNamespace(started=False, should_exit=False)
    _open_when_serving(server, "http://127.0.0.1:8787/")  # type: ignore[arg-type]
    assert not done.wait(0.2), "opened before the server listened"
    server.started = True
    assert done.wait(5)
    assert opened == ["http://127.0.0.1:8787/"]


def test_a_large_customers_page_reads_only_what_changed() -> None:
    """100,000 deltas: after the first look, a page (or its live refresh) reads one page of
    rows and what changed, not every delta again (8.4 million SQLite steps before, about
    0.3 million now; counted, not timed)."""
    from pacspace_sandbox._inspector import _views as views

    from ._bulk import seed_deltas

    clock = Clock(1_796_000_000.0)
    sandbox = Sandbox(verify_latency=1, latency_jitter=0, clock=clock)
    try:
        sandbox.ledger.emit({"customerId": "big", "delta": -1, "reason": "usage"}, None)
        clock.now += 5
        seed_deltas(sandbox, "big", 100_000, clock.now)
        first = views.customer(sandbox.ledger, "big", {})
        assert (first["delta_count"], first["verified_count"]) == (100_001, 100_001)
        assert str(first["balance"]) == "-150001.0"
        steps = [0]

        def tick() -> int:
            steps[0] += 1
            return 0

        sandbox.ledger.store._db.set_progress_handler(tick, 1000)
        sandbox.ledger.emit(
            {"customerId": "big", "delta": Decimal("-2.5"), "reason": "usage"}, None
        )
        clock.now += 2
        steps[0] = 0
        again = views.customer(sandbox.ledger, "big", {"page": "2"})
        assert steps[0] < 2_000, f"{steps[0]}k SQLite steps for one page"
        assert (again["delta_count"], again["verified_count"]) == (100_002, 100_002)
        assert str(again["balance"]) == "-150003.5"
        assert len(again["deltas"]) == 50
    finally:
        sandbox.close()


def test_the_incremental_verified_total_always_equals_a_full_sum() -> None:
    """Emits, failures, verifications coming due, a clock moved back: the remembered sum
    is the sum of every verified delta at every moment."""
    import random

    rng = random.Random(7)
    clock = Clock(1_796_000_000.0)
    sandbox = Sandbox(verify_latency=2, latency_jitter=0.5, fail_rate=0.3, seed=3, clock=clock)
    store = sandbox.ledger.store
    try:
        for step in range(300):
            customer = rng.choice(["a", "b"])
            if rng.random() < 0.6:
                amount = f"{rng.randint(-999, 999)}.{rng.randint(0, 99):02d}"
                sandbox.ledger.emit(
                    {"customerId": customer, "delta": Decimal(amount), "reason": "usage"}, None
                )
            clock.now += rng.choice([0, 0.1, 0.7, 1.5, 3])
            if step % 97 == 96:
                clock.now -= 4  # a clock set back: the sum is read again from scratch
            rows = store.verified_deltas(customer, clock.now)
            expected = sum((Decimal(r["amount"]) for r in rows), Decimal(0))
            assert store.verified_total(customer, clock.now) == (expected, len(rows)), step
    finally:
        sandbox.close()
