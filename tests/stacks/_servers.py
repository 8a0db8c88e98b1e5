"""Starting the real servers the stack tests run: a free loopback port, a process group
that is stopped the way its platform stops it, and what to skip or fail without them."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def require(*modules: str) -> None:
    """Skip (or, under CI, fail) when a component the test runs for real is missing."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        reason = f"needs {', '.join(missing)} (pip install -e '.[dev]')"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(reason)
        pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """A server process (and its workers) in a process group of its own."""

    def __init__(self, command: Sequence[str], env: dict[str, str], port: int, log: Path) -> None:
        self.port = port
        self._log_path = log
        # A file, not a pipe: a pipe nobody reads fills up and blocks the server's logging.
        self._log = log.open("w")
        self.process = subprocess.Popen(
            list(command),
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT), **env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def printed(self) -> str:
        return self._log_path.read_text(errors="replace")

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def wait_ready(self, path: str = "/pid", timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the server exited at start:\n{self.printed}")
            try:
                with urllib.request.urlopen(self.url(path), timeout=2) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise AssertionError("the server did not answer in time")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> str:
        """Stop the master as its platform does; returns what the processes printed."""
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
            raise AssertionError(
                f"the server did not stop within {timeout} s:\n{self.printed}"
            ) from None
        finally:
            self._log.close()
            with contextlib.suppress(ProcessLookupError):  # workers left behind, if any
                os.killpg(self.process.pid, signal.SIGKILL)
        return self.printed


PYTHON = sys.executable


def start_app(module: str, *args: str, sandbox: Any, server: Any, **popen: Any) -> Any:
    """``python -m tests.stacks.apps.MODULE ARGS`` from the repository root, on the test's
    sandbox (its key and URL in the environment), its output piped, as text."""
    popen.setdefault("stdout", subprocess.PIPE)
    popen.setdefault("stderr", subprocess.PIPE)
    return subprocess.Popen(
        [PYTHON, "-m", f"tests.stacks.apps.{module}", *args],
        cwd=ROOT,
        env={
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "PACSPACE_API_KEY": sandbox.api_key,
            "PACSPACE_API_BASE_URL": server.url,
        },
        text=True,
        **popen,
    )


def send_what_was_kept(sandbox: Any, server: Any, outbox: object) -> None:
    """What the processes kept in ``outbox`` at their exit, sent as the next start would."""
    import pacspace_sync

    with pacspace_sync.PacSpace(
        sandbox.api_key,
        base_url=server.url,
        submission={"outbox": str(outbox), "maxRequestsPerMinute": 60_000},
    ) as pac:
        pac.balance.flush_summaries()
