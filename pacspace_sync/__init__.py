"""Blocking PacSpace, for scripts, notebooks, Django views and Celery tasks.

The same API as :mod:`pacspace_async`, without ``await``: every call runs on one shared
event-loop thread. Code written for the official ``pacspace-sdk`` runs with only the
import changed::

    from pacspace_sync import PacSpace

    pac = PacSpace.init(os.environ["PACSPACE_API_KEY"])
    emit = pac.balance.emit("cust_acme", -42.5, "compute_minutes", {"referenceId": "..."})

The client classes are generated from the async core (``python -m pacspace_sync._codegen``);
errors, models and ``Webhooks`` are the async package's own objects.
"""

from pacspace_async import (
    APIConnectionError,
    APITimeoutError,
    CadenceLimitError,
    ContractNotDeployedError,
    InsufficientCreditsError,
    InvalidApiKeyError,
    InvalidScopeCombinationError,
    NotFoundError,
    PacSpaceError,
    PlanLimitExceededError,
    RateLimitError,
    ScopeTooWideError,
    ServiceUnavailableError,
    TimeoutError,
    ValidationError,
    WebhookEvent,
    Webhooks,
    WebhookVerificationError,
    __version__,
    types,
)

from ._generated import Balance, Customers, PacSpace, Receipts

__all__ = [
    "APIConnectionError",
    "APITimeoutError",
    "Balance",
    "CadenceLimitError",
    "ContractNotDeployedError",
    "Customers",
    "InsufficientCreditsError",
    "InvalidApiKeyError",
    "InvalidScopeCombinationError",
    "NotFoundError",
    "PacSpace",
    "PacSpaceError",
    "PlanLimitExceededError",
    "RateLimitError",
    "Receipts",
    "ScopeTooWideError",
    "ServiceUnavailableError",
    "TimeoutError",
    "ValidationError",
    "WebhookEvent",
    "WebhookVerificationError",
    "Webhooks",
    "__version__",
    "types",
]
