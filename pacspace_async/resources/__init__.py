"""Resources: each turns a call into a request and an answer into a model."""

from ._balance import Balance
from ._customers import Customers
from ._receipts import Receipts

__all__ = ["Balance", "Customers", "Receipts"]
