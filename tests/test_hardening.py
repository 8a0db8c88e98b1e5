"""Bad servers and odd inputs end in the SDK's own errors, in time, on both backends."""

from __future__ import annotations

import asyncio
import gzip
import threading
import time

import httpx
import pytest
import trustme

import pacspace_async as ps
from pacspace_async import PacSpace

from ._hostile import HostileServer, envelope_answer

BACKENDS = ["httpx", "aiohttp"]
KEY = "pk_test_PUBLIC.SECRET"


def client(url: str, backend: str, **options: object) -> PacSpace:
    return PacSpace(KEY, base_url=url, http_backend=backend, max_retries=0, **options)  # type: ignore[arg-type]


async def drip_head(request: bytes, writer: asyncio.StreamWriter) -> None:
    for byte in envelope_answer():
        writer.write(bytes([byte]))
        await writer.drain()
        await asyncio.sleep(0.05)


async def drip_body(request: bytes, writer: asyncio.StreamWriter) -> None:
    answer = envelope_answer(
        b'{"success":true,"data":{"used":1,"recordId":"r","status":"QUEUED","pad":"'
        + b"x" * 200
        + b'"}}'
    )
    head, _, body = answer.partition(b"\r\n\r\n")
    writer.write(head + b"\r\n\r\n")
    for byte in body:
        writer.write(bytes([byte]))
        await writer.drain()
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("answer", [drip_head, drip_body])
async def test_the_timeout_bounds_the_whole_attempt(backend: str, answer: object) -> None:
    with HostileServer(answer) as server:  # type: ignore[arg-type]
        async with client(server.url, backend, timeout=0.5) as pac:
            started = time.monotonic()
            with pytest.raises(ps.APITimeoutError):
                await pac.balance.usage()
            assert time.monotonic() - started < 2.0  # each byte came well within 0.5 s


async def huge(request: bytes, writer: asyncio.StreamWriter) -> None:
    writer.write(envelope_answer(b"[" + b"1," * (1024 * 1024) + b"1]"))


async def chunked_huge(request: bytes, writer: asyncio.StreamWriter) -> None:
    writer.write(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    for _ in range(64):
        chunk = b"1," * 32_768
        writer.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
    writer.write(b"0\r\n\r\n")


BOMB = gzip.compress(b"[" + b"0," * (50 * 1024 * 1024) + b"0]", 9)


async def gzip_bomb(request: bytes, writer: asyncio.StreamWriter) -> None:
    writer.write(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
        + f"Content-Length: {len(BOMB)}\r\n\r\n".encode()
        + BOMB
    )


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("answer", [huge, chunked_huge, gzip_bomb])
async def test_answers_are_capped_after_decompression(backend: str, answer: object) -> None:
    assert len(BOMB) < 200_000
    with HostileServer(answer) as server:  # type: ignore[arg-type]
        async with client(server.url, backend, max_response_bytes=1024 * 1024) as pac:
            with pytest.raises(ps.PacSpaceError) as caught:
                await pac.balance.usage()
    assert caught.value.code == "RESPONSE_TOO_LARGE"


async def small_gzip(request: bytes, writer: asyncio.StreamWriter) -> None:
    body = gzip.compress(b'{"success":true,"data":{"used":7}}')
    writer.write(
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_gzip_answer_within_the_cap_is_read(backend: str) -> None:
    with HostileServer(small_gzip) as server:
        async with client(server.url, backend) as pac:
            assert (await pac.balance.usage())["used"] == 7


@pytest.mark.parametrize("follow", [True, False])
@pytest.mark.parametrize("status", ["301 Moved Permanently", "302 Found", "307 Temporary Redirect"])
async def test_the_key_never_follows_a_redirect(status: str, follow: bool) -> None:
    with HostileServer() as elsewhere:

        async def redirect(request: bytes, writer: asyncio.StreamWriter) -> None:
            writer.write(
                f"HTTP/1.1 {status}\r\nLocation: {elsewhere.url}/steal\r\nContent-Length: 0\r\n\r\n".encode()
            )

        with HostileServer(redirect) as server:
            async with (
                httpx.AsyncClient(follow_redirects=follow) as http,
                PacSpace(KEY, base_url=server.url, http_client=http) as pac,
            ):
                for call in (pac.balance.usage(), pac.balance.emit("c", -1, "u")):
                    with pytest.raises(ps.PacSpaceError) as caught:
                        await call
                    assert caught.value.code == "REDIRECT_REFUSED"
                    assert "127.0.0.1" in str(caught.value) and KEY not in str(caught.value)
    assert elsewhere.requests == []  # nothing, least of all the key, went there


@pytest.mark.parametrize("backend", BACKENDS)
async def test_our_own_backends_refuse_redirects_too(backend: str) -> None:
    async def redirect(request: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(
            b"HTTP/1.1 302 Found\r\nLocation: http://evil.test/\r\nContent-Length: 0\r\n\r\n"
        )

    with HostileServer(redirect) as server:
        async with client(server.url, backend) as pac:
            with pytest.raises(ps.PacSpaceError) as caught:
                await pac.balance.emit("c", -1, "u")
    assert caught.value.code == "REDIRECT_REFUSED" and len(server.requests) == 1


def request_line(raw: bytes) -> bytes:
    return raw.split(b"\r\n", 1)[0]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("customer", "path"),
    [
        (".", b"/api/v1/balance/customers/%2E"),
        ("..", b"/api/v1/balance/customers/%2E%2E"),
        ("a;b", b"/api/v1/balance/customers/a%3Bb"),
        ("a=b", b"/api/v1/balance/customers/a%3Db"),
        ("a&b", b"/api/v1/balance/customers/a%26b"),
        ("a/b ü", b"/api/v1/balance/customers/a%2Fb%20%C3%BC"),
    ],
)
async def test_odd_ids_go_out_encoded_and_the_same_on_both_backends(
    backend: str, customer: str, path: bytes
) -> None:
    with HostileServer() as server:
        async with client(server.url, backend) as pac:
            await pac.balance.customer(customer)
    assert request_line(server.requests[0]) == b"GET " + path + b" HTTP/1.1"


@pytest.mark.parametrize("backend", BACKENDS)
async def test_both_backends_send_the_same_request(backend: str) -> None:
    with HostileServer() as server:
        async with client(server.url, backend) as pac:
            await pac.balance.emit("cust", "-1.5", "usage", idempotency_key="k1")
    head, _, body = server.requests[0].partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    headers = sorted(line.lower() for line in lines[1:])
    assert lines[0] == b"POST /api/v1/balance/delta HTTP/1.1"
    assert headers == sorted(
        [
            f"host: 127.0.0.1:{server.port}".encode(),
            b"content-type: application/json",
            b"user-agent: pacspace-python-async/" + ps.__version__.encode(),
            b"x-chain-id: 296",
            b"x-api-key: pk_test_public.secret",
            b"idempotency-key: k1",
            f"content-length: {len(body)}".encode(),
        ]
    )
    assert body == b'{"customerId":"cust","delta":-1.5,"reason":"usage"}'


@pytest.mark.parametrize("backend", BACKENDS)
async def test_proxies_from_the_environment_and_the_option(
    backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with HostileServer() as proxy, HostileServer() as target:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        async with client("http://api.pacspace.test", backend) as pac:
            await pac.balance.usage()
        assert request_line(proxy.requests[-1]) == (
            b"GET http://api.pacspace.test/api/v1/balance/usage HTTP/1.1"
        )
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        async with client(target.url, backend) as pac:
            await pac.balance.usage()
        assert len(proxy.requests) == 1 and len(target.requests) == 1  # NO_PROXY honoured
        monkeypatch.delenv("HTTP_PROXY")
        async with client("http://api.pacspace.test", backend, proxy=proxy.url) as pac:
            await pac.balance.usage()
        assert len(proxy.requests) == 2


@pytest.mark.parametrize("backend", BACKENDS)
async def test_verify_takes_a_ca_bundle_or_a_context(backend: str, tmp_path: object) -> None:
    import ssl
    from pathlib import Path

    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    bundle = Path(str(tmp_path)) / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    with HostileServer(tls=server_context) as server:
        async with client(server.url, backend) as pac:
            with pytest.raises(ps.APIConnectionError):
                await pac.balance.usage()  # the system does not trust this CA
        for verify in (str(bundle), client_context):
            async with client(server.url, backend, verify=verify) as pac:
                assert (await pac.balance.usage())["used"] == 1


@pytest.mark.parametrize("backend", BACKENDS)
async def test_ssl_cert_file_is_honoured_by_default(
    backend: str, tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ssl
    from pathlib import Path

    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    bundle = Path(str(tmp_path)) / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    with HostileServer(tls=server_context) as server:
        async with client(server.url, backend) as pac:
            assert (await pac.balance.usage())["used"] == 1


# -- answers the SDK must not take for success, or crash on ------------------------------


def answering(body: bytes, status: str = "200 OK", extra: str = "") -> HostileServer:
    async def answer(request: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(
            f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n{extra}"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )

    return HostileServer(answer)


NESTED = b"[" * 100_000 + b"]" * 100_000


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("body", "status", "error", "code"),
    [
        (
            b'{"success":false,"error":{"code":"INVALID_API_KEY","message":"bad key"}}',
            "200 OK",
            ps.InvalidApiKeyError,
            "INVALID_API_KEY",
        ),
        (
            b'{"success":false,"error":{"code":"VALIDATION_ERROR","message":"no"}}',
            "201 Created",
            ps.ValidationError,
            "VALIDATION_ERROR",
        ),
        (NESTED, "200 OK", ps.PacSpaceError, "INVALID_RESPONSE"),
        (NESTED, "400 Bad Request", ps.ValidationError, "VALIDATION_ERROR"),
    ],
)
async def test_error_answers_and_deep_json_are_errors(
    backend: str, body: bytes, status: str, error: type[Exception], code: str
) -> None:
    with answering(body, status) as server:
        async with client(server.url, backend) as pac:
            with pytest.raises(error) as caught:
                await pac.balance.usage()
    assert caught.type is error and caught.value.code == code  # type: ignore[attr-defined]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("status", "body"),
    [
        ("429 Too Many Requests", b'{"error":{"code":"RATE_LIMITED","retryAfterSeconds":%s}}'),
        ("503 Service Unavailable", b'{"error":{"code":"DOWN","retryAfterSeconds":%s}}'),
        ("202 Accepted", b'{"code":"IDEMPOTENCY_PENDING","retryAfterSeconds":%s}'),
    ],
)
async def test_a_huge_retry_after_is_an_error_at_once(
    backend: str, status: str, body: bytes
) -> None:
    with answering(body % (b"9" * 400), status, "Retry-After: 1e999\r\n") as server:
        async with PacSpace(KEY, base_url=server.url, http_backend=backend) as pac:
            started = time.monotonic()
            with pytest.raises(ps.PacSpaceError) as caught:
                await pac.balance.emit("c", -1, "u")
            assert time.monotonic() - started < 1.0  # neither retried nor waited out
    assert caught.value.retry_after is None or caught.value.retry_after > 60
    assert len(server.requests) == 1


@pytest.mark.parametrize("backend", BACKENDS)
async def test_the_key_never_reaches_an_error(backend: str) -> None:
    echo = f"not json, and your key is {KEY}".encode()
    for body, status in (
        (echo, "200 OK"),
        (
            b'{"error":{"message":"bad key ' + KEY.encode() + b'"},"key":"' + KEY.encode() + b'"}',
            "401 Unauthorized",
        ),
    ):
        with answering(body, status) as server:
            async with client(server.url, backend) as pac:
                with pytest.raises(ps.PacSpaceError) as caught:
                    await pac.balance.usage()
        seen = f"{caught.value} {caught.value!r} {caught.value.body!r} {caught.value.api_body!r}"
        assert KEY not in seen and "SECRET" not in seen and "pk_test_" in seen


@pytest.mark.parametrize("key", ["pk_test_a.b\x00c", "pk_test_a.b\r\nX: y", "pk_test_ä.b", ""])
def test_keys_with_control_characters_are_refused_without_being_shown(key: str) -> None:
    with pytest.raises(ps.PacSpaceError) as caught:
        PacSpace(key, base_url="http://127.0.0.1:9")
    assert key.replace("pk_test_", "") not in str(caught.value) or not key


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"idempotency_key": "a\r\nX-Evil: 1"}, "idempotency_key"),
        ({"idempotency_key": "a\x00b"}, "idempotency_key"),
        ({"idempotency_key": "clé"}, "idempotency_key"),
        ({"extra_headers": {"X-A": "b\nc"}}, "extra_headers['X-A']"),
        ({"extra_headers": {"X A": "b"}}, "extra_headers"),
        ({"extra_headers": {"X-A": "é"}}, "extra_headers['X-A']"),
        ({"chain_id": "296"}, "chain_id"),
        ({"chain_id": True}, "chain_id"),
    ],
)
async def test_header_bound_options_are_validated_before_sending(
    backend: str, options: dict[str, object], field: str
) -> None:
    with HostileServer() as server:
        async with client(server.url, backend) as pac:
            with pytest.raises(ps.ValidationError) as caught:
                await pac.balance.emit("c", -1, "u", **options)  # type: ignore[arg-type]
            with pytest.raises(ps.ValidationError):
                PacSpace(KEY, base_url=server.url, dashboard_token="tok\r\nen")
    assert caught.value.field == field and server.requests == []


# -- the waiter --------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
async def test_mixed_naive_and_aware_timestamps_do_not_strand_a_wait(backend: str) -> None:
    async def answer(request: bytes, writer: asyncio.StreamWriter) -> None:
        if request.startswith(b"POST"):
            writer.write(
                envelope_answer(b'{"success":true,"data":{"recordId":"r_1","status":"QUEUED"}}')
            )
        else:
            writer.write(
                envelope_answer(
                    b'{"success":true,"data":{"recordId":"r_1","status":"VERIFIED",'
                    b'"createdAt":"2026-05-27T00:00:00","verifiedAt":"2026-05-27T00:00:01Z"}}'
                )
            )

    with HostileServer(answer) as server:
        async with client(server.url, backend) as pac:
            status = await pac.balance.emit_and_wait("c", -1, "u", timeout=5, poll_interval=0.05)
    assert status.status == "VERIFIED"


@pytest.mark.parametrize("backend", BACKENDS)
async def test_closing_stops_in_flight_status_checks(backend: str) -> None:
    checking = threading.Event()

    async def answer(request: bytes, writer: asyncio.StreamWriter) -> None:
        if request.startswith(b"POST"):
            writer.write(
                envelope_answer(b'{"success":true,"data":{"recordId":"r_1","status":"QUEUED"}}')
            )
        else:
            checking.set()
            await asyncio.sleep(30)  # a status check that hangs

    with HostileServer(answer) as server:
        pac = PacSpace(KEY, base_url=server.url, http_backend=backend, timeout=60)
        wait = asyncio.create_task(
            pac.balance.emit_and_wait("c", -1, "u", timeout=30, poll_interval=0.05)
        )
        assert await asyncio.to_thread(checking.wait, 10)
        started = time.monotonic()
        await pac.aclose()
        with pytest.raises(ps.PacSpaceError) as caught:
            await wait
        assert time.monotonic() - started < 2 and caught.value.code == "CLIENT_CLOSED"
        leftover = [
            t
            for t in asyncio.all_tasks()
            if t.get_coro().__qualname__ == "Waiter._check"  # type: ignore[union-attr]
        ]
        assert leftover == []


# -- caller input ------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda pac: pac.balance.emit("c", "1e1000", "u"), "delta"),
        (lambda pac: pac.balance.emit("c", "1e999999999", "u"), "delta"),
        (lambda pac: pac.balance.emit("c", __import__("decimal").Decimal("1E-1000"), "u"), "delta"),
        (lambda pac: pac.balance.emit("c", 10**29, "u"), "delta"),
        (lambda pac: pac.balance.emit("c", "１２３", "u"), "delta"),
        (lambda pac: pac.balance.emit("c", "1_000", "u"), "delta"),
        (lambda pac: pac.balance.checkpoint("c", fingerprints={1, 2}), "fingerprints"),
        (lambda pac: pac.balance.emit("c", 1, "u", metadata=nested(5000)), "metadata"),
        (lambda pac: pac.balance.compare("c", yours="1e16", theirs=1), "yours"),
    ],
)
async def test_bad_input_is_refused_before_anything_is_sent(
    backend: str, call: object, field: str
) -> None:
    with HostileServer() as server:
        async with client(server.url, backend) as pac:
            with pytest.raises(ps.ValidationError) as caught:
                await call(pac)  # type: ignore[operator]
    assert caught.value.field == field and server.requests == []


def nested(depth: int) -> dict[str, object]:
    value: dict[str, object] = {}
    for _ in range(depth):
        value = {"a": value}
    return value


# -- webhooks ----------------------------------------------------------------------------

HOOKS = ps.Webhooks("whsec_test", clock=lambda: 1_779_840_000.0)


@pytest.mark.parametrize(
    ("signature", "timestamp", "body", "reason"),
    [
        ("v1=00", "9" * 400, b'{"event":"x"}', "invalid_timestamp"),
        ("v1=ÿÿÿ", "1779840000", b'{"event":"x"}', "signature_mismatch"),
        ("v1=é,v1=00", "1779840000", b'{"event":"x"}', "signature_mismatch"),
        (None, "1779840000", b'{"event":"x"}', "missing_signature"),
    ],
)
def test_webhook_headers_only_ever_fail_as_verification_errors(
    signature: str | None, timestamp: str, body: bytes, reason: str
) -> None:
    with pytest.raises(ps.WebhookVerificationError) as caught:
        HOOKS.verify(signature, timestamp, body)
    assert caught.value.reason == reason


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"event":"x","data":' + b"[" * 50_000 + b"]" * 50_000 + b"}", "not_json"),
        (b'{"event":"delta.verified","data":{"recordId":"r","error":{"deep":1}}}', None),
        (b'{"event":"delta.verified","data":"not an object"}', None),
    ],
)
def test_signed_but_odd_bodies_yield_an_event_or_a_verification_error(
    body: bytes, reason: str | None
) -> None:
    pac = PacSpace(KEY, base_url="http://127.0.0.1:9", webhook_secret="whsec_test")
    assert pac.webhooks is not None
    headers, _ = pac.webhooks.sign(body)
    try:
        event = pac.webhooks.verify_from_headers(headers, body)
    except ps.WebhookVerificationError as exc:
        assert exc.reason == reason
    else:
        assert reason is None and event.event


def test_a_nan_tolerance_is_refused() -> None:
    headers, body = HOOKS.sign({"event": "x"}, timestamp=0)  # 1970
    with pytest.raises(ps.ValidationError) as caught:
        HOOKS.verify_from_headers(headers, body, tolerance=float("nan"))
    assert caught.value.field == "tolerance"


async def test_the_webhook_endpoint_has_a_read_deadline() -> None:
    from pacspace_async.webhooks import webhook_endpoint

    app = webhook_endpoint(HOOKS, read_timeout=0.2)
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        await asyncio.sleep(0.05)  # one byte at a time, slowly
        return {"type": "http.request", "body": b"x", "more_body": True}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    started = time.monotonic()
    await app({"type": "http", "method": "POST", "headers": []}, receive, send)  # type: ignore[arg-type]
    assert time.monotonic() - started < 1 and sent[0]["status"] == 408
