"""What names a line across edits, and the ``referenceId`` derived from it.

A line without a ``referenceId`` is named by what it is, never by where it is: the import's
id, the line's normalised content (customer, amount as a number, reason, metadata) and its
occurrence among identical lines of the file. Blank, inserted, deleted or reordered lines
leave every other line's name unchanged; ``-3`` and ``-3.00`` are the same line.

A name is recorded once per *generation*: a line reversed by ``--reconcile`` and later
put back is recorded again under the next generation's id, since the service answers the
old id with the reversed record.
"""

from __future__ import annotations

import hashlib
from decimal import Context, Decimal

__all__ = ["content_key", "identity", "reference", "reversal"]


_EXACT = Context(prec=64)  # more digits than any amount the wire carries: never rounds


def content_key(customer: str, amount: Decimal, reason: str, metadata: str | None) -> bytes:
    """The line's content, normalised, as a 16-byte digest: ``metadata`` is its JSON with
    sorted keys. Ids and reasons hold no control character, so NUL separates them."""
    number = str(amount.normalize(_EXACT)) if amount else "0"
    text = f"{customer}\0{number}\0{reason}\0{metadata or ''}"
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()[:16]


def identity(import_id: str, key: bytes, occurrence: int) -> str:
    """The name of the ``occurrence``-th line (from 1) with content ``key``."""
    text = f"{import_id}\0{key.hex()}\0{occurrence}"
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def reference(name: str, generation: int) -> str:
    """The ``referenceId`` a derived name is recorded under, in its ``generation``."""
    if generation == 1:
        return f"imp_{name}"
    return "imp_" + hashlib.sha256(f"{name}\0{generation}".encode()).hexdigest()[:32]


def reversal(reference_id: str) -> str:
    """The ``referenceId`` of the delta that reverses ``reference_id``: derived, so a
    reconcile run again (after a crash or a Ctrl-C) replays it instead of reversing twice."""
    text = f"reverse\0{reference_id}".encode("utf-8", "surrogatepass")
    return "rev_" + hashlib.sha256(text).hexdigest()[:32]
