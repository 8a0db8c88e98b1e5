"""Peak memory of a command, measured by the OS: for claims that memory stays flat."""

from __future__ import annotations

import subprocess
import sys


def peak_rss_mb(command: list[str], env: dict[str, str]) -> float:
    """The peak resident memory of ``command`` (a child process), in MB."""
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import resource, subprocess, sys;"
            "code = subprocess.call(sys.argv[1:]);"
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)",
            *command,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return int(done.stdout.split()[-1]) / 1024
