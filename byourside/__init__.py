"""byourside: the typed Python SDK for the By Your Side Agent API, which gives an AI a phone.

Place a real outbound call with an objective and the fields to extract, wait for it to end, and
read back a summary, a transcript and the extracted values as typed models.
"""

from typing import TYPE_CHECKING, Any

from byourside._models import (
    TERMINAL_STATUSES,
    Call,
    CallList,
    CallStatus,
    FieldSpec,
    KnownCallStatus,
    PlacedCall,
    WebhookEvent,
    is_terminal_status,
)
from byourside._version import __version__
from byourside.client import Client
from byourside.errors import (
    AuthenticationError,
    ByoursideError,
    ExtractionError,
    InvalidRequestError,
    InvalidResponseError,
    NetworkError,
    NotFoundError,
    RateLimitError,
    ServiceUnavailableError,
    UsageCapError,
    WaitTimeoutError,
    WebhookVerificationError,
)
from byourside.webhooks import (
    EventStore,
    InMemoryEventStore,
    WebhookDeduplicator,
    construct_event,
    sign_webhook,
    verify_webhook,
)

if TYPE_CHECKING:
    from byourside._batch import BatchItem, BatchOptions, BatchProgress, BatchResult, BatchStatus

__all__ = [
    "TERMINAL_STATUSES",
    "AuthenticationError",
    "BatchItem",
    "BatchOptions",
    "BatchProgress",
    "BatchResult",
    "BatchStatus",
    "ByoursideError",
    "Call",
    "CallList",
    "CallStatus",
    "Client",
    "EventStore",
    "ExtractionError",
    "FieldSpec",
    "InMemoryEventStore",
    "InvalidRequestError",
    "InvalidResponseError",
    "KnownCallStatus",
    "NetworkError",
    "NotFoundError",
    "PlacedCall",
    "RateLimitError",
    "ServiceUnavailableError",
    "UsageCapError",
    "WaitTimeoutError",
    "WebhookDeduplicator",
    "WebhookEvent",
    "WebhookVerificationError",
    "__version__",
    "construct_event",
    "is_terminal_status",
    "sign_webhook",
    "verify_webhook",
]

_BATCH_NAMES = frozenset({"BatchItem", "BatchOptions", "BatchProgress", "BatchResult", "BatchStatus"})


def __getattr__(name: str) -> Any:
    # Batch calling's types load on first use, so `import byourside` stays light.
    if name in _BATCH_NAMES:
        from byourside import _batch

        value = getattr(_batch, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
