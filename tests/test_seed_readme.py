"""The 0.1.0 README's client code runs unchanged against a real server on 127.0.0.1.

The snippets below are copied verbatim from the 0.1.0 README (its "Quick start" and "Error
handling" sections); only the environment points them at the test server: `BYOURSIDE_BASE_URL`
(plain http:// is allowed to loopback). They use the key "bys_ak_YOUR_KEY", as the README does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests import payloads
from tests.client_support import base_url, requests_to

# 0.1.0 README, Quick start: place a call and wait for the result.
PLACE_AND_WAIT = """\
from byourside import Client

client = Client(api_key="bys_ak_YOUR_KEY")

# Place an outbound call with an objective
call = client.place_call(
    to="+14155550123",
    objective="Confirm the appointment for tomorrow at 2pm and ask if they need to reschedule.",
    fields=[
        {"name": "confirmed", "type": "boolean"},
        {"name": "new_time", "type": "string"},
    ],
)
print("Placed:", call["callId"], "status:", call["status"])

# Poll until the call reaches a terminal status (default timeout: 180s)
result = client.wait_for_call(call["callId"], timeout=180, interval=5)
print("Final status:", result["status"])
print("Extracted fields:", result.get("extracted"))
"""

# 0.1.0 README, Quick start: list recent calls.
LIST_RECENT_CALLS = """\
calls = client.list_calls(limit=10)
for c in calls:
    print(c["callId"], c["status"])
"""

# 0.1.0 README, Quick start: get a specific call.
GET_A_SPECIFIC_CALL = """\
call = client.get_call("call_abc123")
print(call)
"""

# 0.1.0 README, Error handling.
ERROR_HANDLING = """\
from byourside import Client, ByoursideError

client = Client(api_key="bys_ak_YOUR_KEY")
try:
    client.place_call(to="+19001234567", objective="Sell something")
except ByoursideError as e:
    print(e.code)    # e.g. "destination_blocked"
    print(e.status)  # HTTP status, or 0 for network/timeout errors
    print(str(e))    # Human-readable message
"""


README_KEY = "bys_ak_YOUR_KEY"
COMPLETED = payloads.COMPLETED_CALL | {"id": "call_abc123"}


def answer_placement(request: Request) -> Response:
    sent = json.loads(request.get_data())
    if sent["to"] == "+19001234567":  # a premium-rate number: the guardrails refuse it
        return Response(json.dumps({"error": "destination_blocked"}), 400, content_type="application/json")
    return Response(json.dumps(payloads.PLACED_MINIMAL), 201, content_type="application/json")


@pytest.fixture
def seed_server(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> HTTPServer:
    monkeypatch.delenv("BYOURSIDE_API_KEY", raising=False)
    monkeypatch.setenv("BYOURSIDE_BASE_URL", base_url(httpserver))
    httpserver.expect_request("/v1/agent/calls", method="POST").respond_with_handler(answer_placement)
    # interval=5 in the README: the first poll already finds the call completed, so no wait.
    httpserver.expect_request("/v1/agent/calls/call_abc123", method="GET").respond_with_json(COMPLETED)
    return httpserver


def run(snippet: str, namespace: dict[str, Any]) -> None:
    exec(compile(snippet, "<0.1.0 README>", "exec"), namespace)  # noqa: S102  (our own README text)


@pytest.mark.parametrize("listing", [payloads.LIST_WITH_CALLID_ITEMS, payloads.LIST_WITH_ID_ITEMS])
def test_quick_start_runs_unchanged(
    seed_server: HTTPServer, listing: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    seed_server.expect_request("/v1/agent/calls", method="GET").respond_with_json(listing)
    namespace: dict[str, Any] = {}
    for snippet in (PLACE_AND_WAIT, LIST_RECENT_CALLS, GET_A_SPECIFIC_CALL):
        run(snippet, namespace)
    lines = capsys.readouterr().out.splitlines()
    assert lines[:3] == [
        "Placed: call_abc123 status: queued",
        "Final status: completed",
        "Extracted fields: {'confirmed': True, 'new_time': None}",
    ]
    assert lines[3:5] == [f"{c.get('callId') or c['id']} {c['status']}" for c in listing["calls"]]
    assert "call_abc123" in lines[5]
    assert len(lines) == 6

    placement, first_poll, listed, fetched = requests_to(seed_server)
    assert placement.headers["Authorization"] == f"Bearer {README_KEY}"
    assert json.loads(placement.get_data()) == {
        "to": "+14155550123",
        "objective": "Confirm the appointment for tomorrow at 2pm and ask if they need to reschedule.",
        "fields": [{"name": "confirmed", "type": "boolean"}, {"name": "new_time", "type": "string"}],
    }
    assert (first_poll.path, listed.query_string, fetched.path) == (
        "/v1/agent/calls/call_abc123",
        b"limit=10",
        "/v1/agent/calls/call_abc123",
    )


def test_error_handling_runs_unchanged(seed_server: HTTPServer, capsys: pytest.CaptureFixture[str]) -> None:
    run(ERROR_HANDLING, {})
    assert capsys.readouterr().out.splitlines() == [
        "destination_blocked",
        "400",
        "destination_blocked: Destination not allowed (premium, IRSF, or unsupported country) (HTTP 400)",
    ]
    (placement,) = requests_to(seed_server)
    assert json.loads(placement.get_data()) == {"to": "+19001234567", "objective": "Sell something"}


def readme_section_code(title: str) -> str:
    """The first Python block of this repository's README section `title`."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def test_the_typed_quick_start_of_this_readme_runs(
    seed_server: HTTPServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BYOURSIDE_API_KEY", README_KEY)
    seed_server.expect_request("/v1/agent/calls", method="GET").respond_with_json(payloads.LIST_WITH_ID_ITEMS)
    run(readme_section_code("Quick start"), {})
    assert capsys.readouterr().out.splitlines() == [
        "Placed: call_abc123 status: queued",
        "... completed",
        "Final status: completed",
        "Extracted fields: {'confirmed': True, 'new_time': None}",
        "c2 in_progress",
        "c1 completed",
        f"{COMPLETED['summary']} {COMPLETED['recordingUrl']}",
    ]
    placement = requests_to(seed_server)[0]
    assert json.loads(placement.get_data())["fields"] == [
        {"name": "confirmed", "type": "boolean"},
        {"name": "new_time", "type": "string"},
    ]
