"""The public surface is exactly `byourside.__all__`: pinned here, so a change to it is deliberate."""

from __future__ import annotations

import importlib
import inspect

import byourside

PUBLIC = [
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


def test_all_is_pinned() -> None:
    assert byourside.__all__ == PUBLIC


def test_every_public_name_resolves_and_classes_and_functions_are_documented() -> None:
    for name in byourside.__all__:
        value = getattr(byourside, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert value.__module__.startswith("byourside"), name
            assert inspect.getdoc(value), f"{name} has no docstring"


def test_the_0_1_0_modules_and_names_still_import() -> None:
    assert importlib.import_module("byourside.client").Client is byourside.Client
    assert importlib.import_module("byourside.errors").ByoursideError is byourside.ByoursideError
    assert importlib.import_module("byourside.webhooks").verify_webhook is byourside.verify_webhook
    error = byourside.ByoursideError("message", 503, "store_error")
    assert (error.message, error.status, error.code) == ("message", 503, "store_error")
    assert byourside.ByoursideError("m").status == 0
    assert byourside.ByoursideError("m").code is None


def test_0_1_0_signatures_and_defaults_are_kept() -> None:
    def defaults(function: object) -> dict[str, object]:
        params = inspect.signature(function).parameters.values()  # type: ignore[arg-type]
        return {p.name: p.default for p in params if p.kind is p.POSITIONAL_OR_KEYWORD}

    client = byourside.Client
    assert list(defaults(client.place_call))[1:] == [
        "to",
        "objective",
        "context",
        "fields",
        "webhook_url",
        "caller_id",
    ]
    assert defaults(client.list_calls)["limit"] == 20
    assert (defaults(client.wait_for_call)["timeout"], defaults(client.wait_for_call)["interval"]) == (180, 3)
    assert list(defaults(byourside.verify_webhook)) == ["signature_header", "raw_body", "secret", "tolerance"]
    assert defaults(byourside.verify_webhook)["tolerance"] == 300


def test_the_public_modules_define_all() -> None:
    for module in ("byourside.client", "byourside.errors", "byourside.webhooks", "byourside.testing"):
        assert importlib.import_module(module).__all__, module
