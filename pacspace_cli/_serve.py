"""``pacspace sandbox``: serve a sandbox on loopback until Ctrl-C."""

from __future__ import annotations

import argparse
import sys
import threading
import time
import webbrowser

import uvicorn

from pacspace_sandbox import Sandbox, SandboxConfig

__all__ = ["serve"]


def _open_when_serving(server: uvicorn.Server, url: str) -> None:
    """Open ``url`` in the user's browser once the server listens (not before: the
    browser would show a connection error)."""

    def wait_then_open() -> None:
        deadline = time.monotonic() + 30
        while not server.started and not server.should_exit and time.monotonic() < deadline:
            time.sleep(0.05)
        if server.started and not webbrowser.open(url):
            print(f"Could not open a browser; visit {url}", file=sys.stderr)

    threading.Thread(target=wait_then_open, name="pacspace-open", daemon=True).start()


def serve(args: argparse.Namespace) -> int:
    users = []
    for entry in args.dashboard_user:
        email, sep, password = entry.partition(":")
        if not sep or not email or not password:
            print(f"--dashboard-user wants EMAIL:PASSWORD, not {entry!r}", file=sys.stderr)
            return 2
        users.append((email, password))
    try:
        config = SandboxConfig(
            api_keys=list(args.api_key),
            verify_latency=args.verify_latency,
            latency_jitter=args.latency_jitter,
            fail_rate=args.fail_rate,
            db=args.db,
            webhook_url=args.webhook_url,
            webhook_secret=args.webhook_secret,
            rate_limit=args.rate_limit,
            plan_limit=args.plan_limit,
            seed=args.seed,
        )
    except ValueError as exc:
        print(f"pacspace sandbox: {exc}", file=sys.stderr)
        return 2
    if users:
        config.dashboard_users = users
    try:
        config.check_served_on(args.host)  # before the store exists: nothing half-made
    except ValueError as exc:
        print(f"pacspace sandbox: {exc}", file=sys.stderr)
        return 2
    sandbox = Sandbox(config)
    app = sandbox.served_app(args.host, args.allowed_host)
    host = f"[{args.host}]" if ":" in args.host else args.host
    url = f"http://{host}:{args.port}"
    print(f"PacSpace sandbox on {url}  (store: {args.db})")
    for key in config.api_keys:
        print(f"  API key   {key}")
    print("\n  export PACSPACE_API_BASE_URL=" + url)
    print(f"  export PACSPACE_API_KEY={config.api_keys[0]}\n")
    user = config.dashboard_users[0]
    print(f"  Inspector {url}/  (log in as {user[0]})\n")
    print("Ctrl-C stops it.", flush=True)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=args.host,
            port=args.port,
            log_level="warning",
            lifespan="off",
        )
    )
    if args.open:
        _open_when_serving(server, f"{url}/")
    try:
        server.run()
    except KeyboardInterrupt:
        pass  # uvicorn re-raises Ctrl-C after its graceful shutdown
    finally:
        sandbox.close()
    print("Sandbox stopped.")
    return 0
