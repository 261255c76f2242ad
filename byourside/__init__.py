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
    EventInProgressError,
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

if TYPE_CHECKING:
    from byourside._async_batch import AsyncBatchRun
    from byourside._async_client import AsyncClient
    from byourside._batch import BatchItem, BatchOptions, BatchProgress, BatchResult, BatchRun, BatchStatus
    from byourside._dedup_redis import RedisEventStore
    from byourside.webhooks import (
        EventStore,
        InMemoryEventStore,
        SqliteEventStore,
        WebhookDeduplicator,
        construct_event,
        sign_webhook,
        verify_webhook,
    )

__all__ = [
    "TERMINAL_STATUSES",
    "AsyncBatchRun",
    "AsyncClient",
    "AuthenticationError",
    "BatchItem",
    "BatchOptions",
    "BatchProgress",
    "BatchResult",
    "BatchRun",
    "BatchStatus",
    "ByoursideError",
    "Call",
    "CallList",
    "CallStatus",
    "Client",
    "EventInProgressError",
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
    "RedisEventStore",
    "ServiceUnavailableError",
    "SqliteEventStore",
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

# Loaded on first use, so `import byourside` stays light for programs that only place calls.
_LAZY_HOMES = {
    "AsyncClient": "_async_client",  # asyncio is loaded only by programs that use it
    "AsyncBatchRun": "_async_batch",
    **dict.fromkeys(
        ["BatchItem", "BatchOptions", "BatchProgress", "BatchResult", "BatchRun", "BatchStatus"], "_batch"
    ),
    **dict.fromkeys(
        [
            "EventStore",
            "InMemoryEventStore",
            "SqliteEventStore",
            "WebhookDeduplicator",
            "construct_event",
            "sign_webhook",
            "verify_webhook",
        ],
        "webhooks",
    ),
    # The optional extra byourside[redis]: only this name ever imports redis.
    "RedisEventStore": "_dedup_redis",
}


def __getattr__(name: str) -> Any:
    home = _LAZY_HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"byourside.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
