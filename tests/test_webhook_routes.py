"""Webhook deliveries reach the endpoint at the URL the FastAPI guide gives, under FastAPI and
under Starlette, with and without a trailing slash, never through a redirect (a webhook
sender does not follow one); as the app's own route with ``deliver``, too."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

import pacspace_async
from pacspace_async.webhooks import WebhookEvent, webhook_endpoint

fastapi = pytest.importorskip("fastapi")
from starlette.applications import Starlette  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import PlainTextResponse, Response  # noqa: E402
from starlette.routing import Route  # noqa: E402

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "guides" / "fastapi.md"
SECRET = "whsec_routes"


def guide_path() -> str:
    found = re.search(r'\.mount_on\(app, "([^"]+)"\)', GUIDE.read_text())
    assert found is not None, "the FastAPI guide shows mount_on(app, path)"
    return found.group(1)


async def home(request: Request) -> PlainTextResponse:
    return PlainTextResponse("home")


def starlette_app() -> Any:
    return Starlette(routes=[Route("/", home)])


def fastapi_app() -> Any:
    app = fastapi.FastAPI()
    app.add_api_route("/", home)
    return app


def signed(event: str = "delta.verified") -> tuple[dict[str, str], bytes]:
    return pacspace_async.Webhooks(SECRET).sign({"event": event, "data": {"recordId": "rec_1"}})


@pytest.mark.parametrize("make", [starlette_app, fastapi_app], ids=["starlette", "fastapi"])
async def test_mount_on_answers_the_guides_url_with_and_without_a_slash(
    make: Callable[[], Any],
) -> None:
    received: list[WebhookEvent] = []
    app = make()
    hooks = webhook_endpoint(pacspace_async.Webhooks(SECRET), {"*": received.append})
    path = guide_path()
    hooks.mount_on(app, path)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://app", follow_redirects=False
    ) as http:
        for url in (path, path + "/"):
            headers, body = signed()
            answer = await http.post(url, content=body, headers=headers)
            assert answer.status_code == 204, (url, answer.status_code, answer.headers)
        headers, body = signed()
        bad = await http.post(path, content=body + b" ", headers=headers)
        assert bad.status_code == 400 and bad.json() == {"error": "signature_mismatch"}
        assert (await http.get(path)).status_code == 405
        assert (await http.post(path + "/other", content=body, headers=headers)).status_code == 404
        assert (await http.get("/")).text == "home"  # the app's own routes are untouched
    assert [e.event for e in received] == ["delta.verified", "delta.verified"]


async def test_deliver_serves_a_route_of_the_apps_own() -> None:
    app = fastapi.FastAPI()
    hooks = webhook_endpoint(pacspace_async.Webhooks(SECRET))

    @app.post("/pacspace/webhooks")
    async def pacspace_webhook(request: Request) -> Response:
        status, body = await hooks.deliver(await request.body(), request.headers)
        return Response(body, status, media_type="application/json")

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://app", follow_redirects=False
    ) as http:
        headers, body = signed()
        assert (
            await http.post("/pacspace/webhooks", content=body, headers=headers)
        ).status_code == 204
        bad = await http.post("/pacspace/webhooks", content=body + b" ", headers=headers)
        assert bad.status_code == 400


async def test_a_delivery_through_mount_on_ends_a_clients_wait() -> None:
    import respx

    with respx.mock(base_url="https://api.test", assert_all_called=False) as router:
        router.get("/api/v1/balance/delta/rec_1").respond(
            200, json={"success": True, "data": {"recordId": "rec_1", "status": "QUEUED"}}
        )
        async with pacspace_async.PacSpace(
            "pk_test_a.b", base_url="https://api.test", webhook_secret=SECRET
        ) as pac:
            app = starlette_app()
            webhook_endpoint(pac.webhooks).mount_on(app, guide_path())
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://app"
            ) as http:
                import anyio

                async with anyio.create_task_group() as tasks:
                    statuses: list[str] = []

                    async def wait() -> None:
                        statuses.append(
                            (await pac.balance.wait_for_verified("rec_1", timeout=5)).status
                        )

                    tasks.start_soon(wait)
                    await anyio.sleep(0.02)
                    headers, body = signed()
                    assert (
                        await http.post(guide_path(), content=body, headers=headers)
                    ).status_code == 204
            assert statuses == ["VERIFIED"]
