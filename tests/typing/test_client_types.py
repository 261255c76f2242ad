"""Typing promises of the Client, checked by `mypy --strict` (CI) with `assert_type`, and run by
pytest against a real server so every line here is also executed."""

from __future__ import annotations

from typing import Any

from pytest_httpserver import HTTPServer
from typing_extensions import assert_type

import byourside
from byourside import (
    ByoursideError,
    Call,
    CallStatus,
    Client,
    FieldSpec,
    NetworkError,
    PlacedCall,
    RateLimitError,
    ServiceUnavailableError,
)


def serve(httpserver: HTTPServer) -> str:
    httpserver.expect_request("/v1/agent/calls", method="POST").respond_with_json(
        {"callId": "c1", "status": "queued"}, status=201
    )
    httpserver.expect_request("/v1/agent/calls/c1").respond_with_json(
        {"id": "c1", "status": "completed", "extracted": {"confirmed": True}}
    )
    httpserver.expect_request("/v1/agent/calls", method="GET").respond_with_json(
        {"calls": [{"callId": "c1", "status": "completed"}]}
    )
    return f"http://127.0.0.1:{httpserver.port}"


def test_every_public_method_returns_its_model(httpserver: HTTPServer) -> None:
    with Client("bys_ak_typing", serve(httpserver), timeout=(1, 5), max_retries=0) as client:
        assert_type(client, Client)
        placed = client.place_call(
            "+14155550123",
            "Confirm",
            "context",
            [{"name": "confirmed", "type": "boolean"}, FieldSpec(name="note")],
            "https://hooks.example.com/bys",
            "+14155550100",
            voice="Aoede",
            language="en-US",
            max_retries=1,
        )
        assert_type(placed, PlacedCall)
        assert_type(placed.call_id, str)

        call = client.get_call(placed.call_id)
        assert_type(call, Call)
        assert_type(call.extracted, dict[str, Any] | None)
        assert_type(call.is_terminal, bool)

        calls = client.list_calls(limit=10)
        assert_type(calls, list[Call])

        def progress(update: Call) -> None:
            assert_type(update.status, CallStatus)

        waited = client.wait_for_call(placed.call_id, timeout=5, interval=0.01, on_status=progress)
        assert_type(waited, Call)
        assert waited.status == "completed"

        assert_type(client.base_url, str)
        assert_type(client.timeout, tuple[float, float])
        assert_type(client.max_retries, int)
        assert_type(client.close(), None)
    assert_type(client.__enter__(), Client)
    assert byourside.Client is Client


class AuditedClient(Client):
    """A user's subclass: the context manager gives back the subclass, not a bare Client."""


def test_a_subclass_enters_as_itself() -> None:
    with AuditedClient("bys_ak_typing") as client:
        assert_type(client, AuditedClient)


def test_errors_carry_typed_attributes() -> None:
    error: ByoursideError = NetworkError("down", 0, "network_error", may_have_placed=True)
    assert_type(error.message, str)
    assert_type(error.status, int)
    assert_type(error.code, str | None)
    assert_type(error.may_have_placed, bool)
    assert_type(error.request_id, str | None)
    assert_type(error.body, bytes | None)
    assert_type(RateLimitError("x").retry_after, float | None)
    assert_type(ServiceUnavailableError("x").retry_after, float | None)
    assert error.may_have_placed
