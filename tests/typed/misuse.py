"""Mistakes the SDK's types must catch: each line marked ``# error`` must fail to check."""

from __future__ import annotations

from pacspace_async import PacSpace


def mistakes(pac: PacSpace) -> None:
    PacSpace.init("pk_test_a.b", timout=5)  # error
    PacSpace("pk_test_a.b", http_backend="curl")  # error
    PacSpace.init("pk_test_a.b", max_retries="3")  # error


async def wrong_status(pac: PacSpace) -> None:
    emitted = await pac.balance.emit("cust_1", 1, "usage")
    if emitted.status == "VERIFIED_NOW":  # error
        pass
