"""What the Balance API refuses, as numbers: the SDK checks them before anything is sent
or stored, and the sandbox enforces the same ones.

PacSpace has not published these limits ([ours] in the wire notes): they are the
sandbox's, kept here once so that the client and the sandbox can never disagree on them.
"""

from __future__ import annotations

__all__ = ["MAX_ID_LENGTH", "MAX_TEXT_LENGTH"]

MAX_ID_LENGTH = 128
"""A ``customerId`` or a ``referenceId``: at most this many characters."""
MAX_TEXT_LENGTH = 256
"""A ``reason``, and other short texts: at most this many characters."""
