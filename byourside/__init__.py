"""byourside: the typed Python SDK for the By Your Side Agent API, which gives an AI a phone.

Place a real outbound call with an objective and the fields to extract, wait for it to end, and
read back a summary, a transcript and the extracted values as typed models.
"""

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

__all__ = [
    "TERMINAL_STATUSES",
    "AuthenticationError",
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
