"""PacSpace for asyncio: record usage deltas, wait for verification, derive, compare and
checkpoint balances.

    async with PacSpace() as pac:            # PACSPACE_API_KEY, PACSPACE_API_BASE_URL
        delta = await pac.balance.emit("cust_acme", -42.5, "compute_minutes")
        verified = await pac.balance.wait_for_verified(delta.record_id)
"""

from . import _telemetry
from ._backends import HttpBackend, TransportCallable, TransportResponse
from ._client import PacSpace
from ._client_options import ClientOptions
from ._errors import (
    APIConnectionError,
    APITimeoutError,
    CadenceLimitError,
    ContractNotDeployedError,
    InsufficientCreditsError,
    InvalidApiKeyError,
    InvalidScopeCombinationError,
    NotFoundError,
    OutboxError,
    PacSpaceError,
    PlanLimitExceededError,
    RateLimitError,
    ScopeTooWideError,
    ServiceUnavailableError,
    TimeoutError,
    ValidationError,
    WebhookVerificationError,
)
from ._options import Amount, RequestOverrides, WaitOverrides
from ._time import Duration, Timeout
from ._version import __version__
from .resources import EmitItem, EmitOutcome, Progress
from .summaries import Meter
from .types import CloseReport
from .webhooks import WebhookEvent, Webhooks

_telemetry.setup_logging()  # PACSPACE_LOG=debug|info prints the ``pacspace`` logger

__all__ = [
    "Amount",
    "ClientOptions",
    "CloseReport",
    "Duration",
    "EmitItem",
    "EmitOutcome",
    "HttpBackend",
    "Meter",
    "Progress",
    "RequestOverrides",
    "Timeout",
    "TransportCallable",
    "TransportResponse",
    "WaitOverrides",
    "APIConnectionError",
    "APITimeoutError",
    "CadenceLimitError",
    "ContractNotDeployedError",
    "InsufficientCreditsError",
    "InvalidApiKeyError",
    "InvalidScopeCombinationError",
    "NotFoundError",
    "OutboxError",
    "PacSpace",
    "PacSpaceError",
    "PlanLimitExceededError",
    "RateLimitError",
    "ScopeTooWideError",
    "ServiceUnavailableError",
    "TimeoutError",
    "ValidationError",
    "WebhookEvent",
    "WebhookVerificationError",
    "Webhooks",
    "__version__",
]
