"""Where Debian's Chromium is and how to start it headless on a closed network: shared by
the inspector's browser tests and ``scripts/inspector_screenshots.py``."""

from __future__ import annotations

import os
import shutil

# As the machine's notes say: without the background-networking flags Chromium keeps
# trying to reach Google's hosts, which a closed network refuses.
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def chromium_path() -> str | None:
    """``PACSPACE_CHROMIUM``, else ``chromium`` on the PATH."""
    return os.environ.get("PACSPACE_CHROMIUM") or shutil.which("chromium")
