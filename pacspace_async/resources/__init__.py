"""Resources: each turns a call into a request and an answer into a model."""

from ._customers import Customers
from ._delta import emit_body
from ._many import EmitItem, EmitOutcome, Progress, stream
from ._receipts import Receipts
from .balance import Balance, submit_batch

__all__ = [
    "Balance",
    "Customers",
    "EmitItem",
    "EmitOutcome",
    "Progress",
    "Receipts",
    "emit_body",
    "stream",
    "submit_batch",
]
