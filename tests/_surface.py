"""The public surface of the clients, as text: every public class of ``pacspace_sync``
and ``pacspace_async`` that a user calls through, each method's and property's signature.

``tests/data/surface.txt`` holds it as it was before the resource and ledger were split
into rooms; ``test_surface`` keeps it so. Order inside a class does not count (the
generated facade may list a mixin's methods in another order), the signatures do.
"""

from __future__ import annotations

import inspect
from typing import Any


def _members(cls: type) -> list[str]:
    out = []
    for name in dir(cls):
        if name.startswith("_") and name not in ("__init__", "__enter__", "__exit__"):
            continue
        member = inspect.getattr_static(cls, name)
        if isinstance(member, property):
            hint = inspect.signature(member.fget).return_annotation  # type: ignore[arg-type]
            out.append(f"  property {name} -> {hint}")
        elif isinstance(member, (classmethod, staticmethod)):
            out.append(f"  {type(member).__name__} {name}{inspect.signature(member.__func__)}")
        elif inspect.isfunction(member):
            kind = "async def" if inspect.iscoroutinefunction(member) else "def"
            if inspect.isasyncgenfunction(member):
                kind = "async gen"
            out.append(f"  {kind} {name}{inspect.signature(member)}")
    return sorted(out)


def surface() -> str:
    import pacspace_async
    import pacspace_sync
    from pacspace_async.resources import Balance, Customers, Receipts

    classes: list[tuple[str, Any]] = [
        ("pacspace_async.PacSpace", pacspace_async.PacSpace),
        ("pacspace_async.Balance", Balance),
        ("pacspace_async.Customers", Customers),
        ("pacspace_async.Receipts", Receipts),
    ]
    classes += [
        (f"pacspace_sync.{name}", getattr(pacspace_sync, name))
        for name in ("PacSpace", "Balance", "Customers", "Receipts")
    ]
    lines = [f"pacspace_async.__all__ = {sorted(pacspace_async.__all__)}"]
    lines.append(f"pacspace_sync.__all__ = {sorted(pacspace_sync.__all__)}")
    for label, cls in classes:
        lines.append(f"class {label}")
        lines.extend(_members(cls))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(surface(), end="")
