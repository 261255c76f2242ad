"""The Client against a real HTTP server on 127.0.0.1: construction, and each method's exact
request on the wire and parsed reply."""

from __future__ import annotations

import json
import platform
import re
from typing import Any

import pytest
import requests
from pytest_httpserver import HTTPServer
from requests.adapters import HTTPAdapter

from byourside import (
    AuthenticationError,
    Call,
    Client,
    FieldSpec,
    InvalidRequestError,
    NotFoundError,
    PlacedCall,
    __version__,
)
from byourside.client import DEFAULT_BASE_URL, DEFAULT_TIMEOUT
from tests import payloads
from tests.client_support import API_KEY, PLACE_PATH, TO, base_url, make_client, raw_uri, requests_to

# -- construction ---------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BYOURSIDE_API_KEY", raising=False)
    monkeypatch.delenv("BYOURSIDE_BASE_URL", raising=False)


def test_defaults() -> None:
    client = Client(API_KEY)
    assert client.base_url == DEFAULT_BASE_URL == "https://api.byourside.ai"
    assert client.timeout == DEFAULT_TIMEOUT
    assert client.max_retries == 2


def test_key_and_base_url_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, httpserver: HTTPServer
) -> None:
    monkeypatch.setenv("BYOURSIDE_API_KEY", API_KEY)
    monkeypatch.setenv("BYOURSIDE_BASE_URL", base_url(httpserver) + "/")
    httpserver.expect_request("/v1/agent/calls/c1").respond_with_json(payloads.COMPLETED_CALL)
    client = Client()
    assert client.base_url == base_url(httpserver)
    client.get_call("c1")
    assert requests_to(httpserver)[0].headers["Authorization"] == f"Bearer {API_KEY}"


def test_arguments_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BYOURSIDE_API_KEY", "bys_ak_from_env")
    monkeypatch.setenv("BYOURSIDE_BASE_URL", "https://env.example")
    client = Client(API_KEY, "https://arg.example")
    assert client.base_url == "https://arg.example"


@pytest.mark.parametrize("key", [None, "", "   ", "\n"])
def test_no_api_key_raises_at_construction(key: str | None, httpserver: HTTPServer) -> None:
    with pytest.raises(AuthenticationError) as caught:
        Client(key, base_url(httpserver))
    assert caught.value.code == "no_api_key"
    assert caught.value.status == 0
    assert "BYOURSIDE_API_KEY" in caught.value.message
    assert httpserver.log == []


def test_empty_key_in_environment_is_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BYOURSIDE_API_KEY", "")
    with pytest.raises(AuthenticationError, match="no_api_key"):
        Client()


@pytest.mark.parametrize("key", [f"{API_KEY}\nX-Evil: 1", f"bys_ak_ {API_KEY}", f"{API_KEY}é"])
def test_a_key_that_cannot_travel_in_a_header_is_refused_without_showing_it(key: str) -> None:
    with pytest.raises(AuthenticationError) as caught:
        Client(key)
    assert caught.value.code == "invalid_api_key"
    assert API_KEY not in str(caught.value)
    assert API_KEY not in repr(caught.value)


def test_surrounding_whitespace_of_a_key_is_ignored(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/v1/agent/calls/c1").respond_with_json(payloads.COMPLETED_CALL)
    Client(f"  {API_KEY}\n", base_url(httpserver)).get_call("c1")
    assert requests_to(httpserver)[0].headers["Authorization"] == f"Bearer {API_KEY}"


@pytest.mark.parametrize(
    "url",
    [
        "http://api.byourside.ai",
        "http://10.0.0.1:8080",
        "http://128.0.0.1",
        "ftp://api.byourside.ai",
        "api.byourside.ai",
        "https://",
        "https://exa mple.com",
        "https://host:notaport",
    ],
)
def test_insecure_or_broken_base_url_refused(url: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        Client(API_KEY, url)
    assert (caught.value.code, caught.value.status) == ("insecure_base_url", 0)


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8080", "http://127.9.9.9", "http://localhost:1", "http://[::1]:8080", "https://x.io"],
)
def test_https_and_loopback_http_accepted(url: str) -> None:
    assert Client(API_KEY, url).base_url == url


def test_insecure_base_url_from_the_environment_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BYOURSIDE_BASE_URL", "http://api.byourside.ai")
    with pytest.raises(InvalidRequestError, match="insecure_base_url"):
        Client(API_KEY)


@pytest.mark.parametrize("bad", [-1, 1.5, True, "2"])
def test_max_retries_must_be_a_whole_number(bad: Any) -> None:
    with pytest.raises(InvalidRequestError, match="max_retries") as caught:
        Client(API_KEY, max_retries=bad)
    assert (caught.value.code, caught.value.status) == ("invalid_max_retries", 0)


@pytest.mark.parametrize("bad", [0, -1, (1, 0), (1, 2, 3), float("nan"), "5", (None, 1)])
def test_timeout_must_be_positive_seconds(bad: Any) -> None:
    with pytest.raises(InvalidRequestError, match="timeout") as caught:
        Client(API_KEY, timeout=bad)
    assert (caught.value.code, caught.value.status) == ("invalid_timeout", 0)


def test_a_single_timeout_applies_to_connect_and_read() -> None:
    assert Client(API_KEY, timeout=7).timeout == (7.0, 7.0)


def test_repr_never_shows_the_key() -> None:
    client = Client(API_KEY, "https://api.byourside.ai", max_retries=3)
    assert repr(client) == "Client(base_url='https://api.byourside.ai', timeout=(10.0, 60.0), max_retries=3)"
    assert API_KEY not in str(client)
    assert API_KEY not in repr(client._transport._auth)


def test_context_manager_closes_its_own_session(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/v1/agent/calls/c1").respond_with_json(payloads.COMPLETED_CALL)
    with make_client(httpserver) as client:
        assert isinstance(client, Client)
        client.get_call("c1")
        adapter = client._transport._session.get_adapter(base_url(httpserver))
        assert isinstance(adapter, HTTPAdapter)
        pools = adapter.poolmanager.pools
        assert len(pools) == 1
    assert len(pools) == 0


class RecordingSession(requests.Session):
    closed = False

    def close(self) -> None:
        self.closed = True
        super().close()


def test_a_session_passed_in_is_used_and_left_open(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/v1/agent/calls/c1").respond_with_json(payloads.COMPLETED_CALL)
    session = RecordingSession()
    session.headers["X-Trace"] = "trace-1"
    session.headers["User-Agent"] = "someone-else"
    with make_client(httpserver, session=session) as client:
        client.get_call("c1")
    seen = requests_to(httpserver)[0]
    assert seen.headers["X-Trace"] == "trace-1"
    assert seen.headers["User-Agent"].startswith("byourside/")
    assert "Authorization" not in session.headers  # the session is not mutated
    assert not session.closed
    session.close()


# -- the wire -------------------------------------------------------------------------------

USER_AGENT = re.compile(r"byourside/(\S+) python/(\d+\.\d+\.\d+\S*)")


def check_common_headers(request: Any) -> None:
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    agent = USER_AGENT.fullmatch(request.headers["User-Agent"])
    assert agent is not None
    assert agent.groups() == (__version__, platform.python_version())
    assert request.headers["Accept"] == "application/json"


def placed(httpserver: HTTPServer, reply: dict[str, Any] | None = None) -> None:
    httpserver.expect_request(PLACE_PATH, method="POST").respond_with_json(
        reply or payloads.PLACED_MINIMAL, status=201
    )


def sent_body(httpserver: HTTPServer) -> Any:
    (request,) = requests_to(httpserver)
    assert request.method == "POST"
    assert raw_uri(request) == PLACE_PATH
    assert request.headers["Content-Type"] == "application/json"
    check_common_headers(request)
    return json.loads(request.get_data())


def test_place_call_sends_only_the_keys_given(httpserver: HTTPServer) -> None:
    placed(httpserver)
    result = make_client(httpserver).place_call(TO, "Confirm the appointment")
    assert sent_body(httpserver) == {"to": TO, "objective": "Confirm the appointment"}
    assert isinstance(result, PlacedCall)
    assert (result.call_id, result.status) == ("call_abc123", "queued")
    assert (result["callId"], result["status"]) == ("call_abc123", "queued")


def test_place_call_positional_order_and_camel_case_keys(httpserver: HTTPServer) -> None:
    placed(httpserver, payloads.PLACED_NEWER_DOCS)
    fields = [{"name": "confirmed", "type": "boolean"}, {"name": "new_time", "type": "string"}]
    result = make_client(httpserver).place_call(
        TO, "Confirm", "Patient of Dr. Lee", fields, "https://hooks.example.com/bys", "+14155550100"
    )
    assert sent_body(httpserver) == {
        "to": TO,
        "objective": "Confirm",
        "context": "Patient of Dr. Lee",
        "fields": fields,
        "webhookUrl": "https://hooks.example.com/bys",
        "callerId": "+14155550100",
    }
    assert (result.language, result.language_source, result.voice) == ("en-US", "inferred", "Aoede")


def test_place_call_voice_language_and_field_models(httpserver: HTTPServer) -> None:
    placed(httpserver)
    make_client(httpserver).place_call(
        to=TO,
        objective="Confirm",
        fields=[
            FieldSpec(name="confirmed", type="boolean", description="Did they confirm?"),
            FieldSpec(name="note"),
            {"name": "count", "type": "number"},
        ],
        voice="Aoede",
        language="en-US",
    )
    assert sent_body(httpserver) == {
        "to": TO,
        "objective": "Confirm",
        "fields": [
            {"name": "confirmed", "type": "boolean", "description": "Did they confirm?"},
            {"name": "note"},
            {"name": "count", "type": "number"},
        ],
        "voice": "Aoede",
        "language": "en-US",
    }


def test_place_call_accepts_twenty_fields_and_an_empty_list(httpserver: HTTPServer) -> None:
    placed(httpserver)
    client = make_client(httpserver)
    client.place_call(TO, "Confirm", fields=[{"name": f"f{i}"} for i in range(20)])
    client.place_call(TO, "Confirm", fields=[])
    bodies = [json.loads(r.get_data()) for r in requests_to(httpserver)]
    assert len(bodies[0]["fields"]) == 20
    assert bodies[1]["fields"] == []


@pytest.mark.parametrize(
    ("call_id", "on_the_wire"),
    [
        ("call_abc123", "call_abc123"),
        ("c 1", "c%201"),
        ("a/b", "a%2Fb"),
        ("x?y#z", "x%3Fy%23z"),
        ("...", "..."),
        ("é~", "%C3%A9~"),
        (payloads.CALL_ID, payloads.CALL_ID),
    ],
)
def test_get_call_quotes_the_id_with_no_safe_characters(
    httpserver: HTTPServer, call_id: str, on_the_wire: str
) -> None:
    httpserver.expect_request(f"/v1/agent/calls/{call_id}").respond_with_json(
        payloads.COMPLETED_CALL | {"id": call_id}
    )
    call = make_client(httpserver).get_call(call_id)
    (request,) = requests_to(httpserver)
    assert request.method == "GET"
    assert raw_uri(request) == f"/v1/agent/calls/{on_the_wire}"
    check_common_headers(request)
    assert "Content-Type" not in request.headers
    assert isinstance(call, Call)
    assert call.id == call.call_id == call_id


@pytest.mark.parametrize("call_id", ["", ".", "..", None, 123])
def test_an_id_that_can_name_no_call_is_refused_before_io(httpserver: HTTPServer, call_id: Any) -> None:
    client = make_client(httpserver)
    for method in (client.get_call, client.wait_for_call):
        with pytest.raises(NotFoundError) as caught:
            method(call_id)
        assert (caught.value.code, caught.value.status) == ("not_found", 0)
    assert httpserver.log == []


def test_get_call_parses_the_whole_call_and_keeps_unknown_keys(httpserver: HTTPServer) -> None:
    wire = payloads.COMPLETED_CALL | {"durationSeconds": 42, "status": "completed"}
    httpserver.expect_request(f"/v1/agent/calls/{payloads.CALL_ID}").respond_with_json(wire)
    call = make_client(httpserver).get_call(payloads.CALL_ID)
    assert call.extracted == {"confirmed": True, "new_time": None}
    assert call["durationSeconds"] == 42
    assert call.to_wire() == wire


def test_get_call_unknown_status_parses(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/v1/agent/calls/c1").respond_with_json({"id": "c1", "status": "ringing"})
    call = make_client(httpserver).get_call("c1")
    assert call.status == "ringing"
    assert not call.is_terminal


@pytest.mark.parametrize(
    ("limit", "sent"),
    [
        (10, "10"),
        (1, "1"),
        (100, "100"),
        (0, "1"),
        (500, "100"),
        (-5, "20"),
        ("7", "20"),
        (2.5, "20"),
        (True, "20"),
    ],
)
def test_list_calls_clamps_the_limit_as_0_1_0_did(httpserver: HTTPServer, limit: Any, sent: str) -> None:
    httpserver.expect_request(PLACE_PATH, method="GET").respond_with_json(payloads.LIST_WITH_ID_ITEMS)
    make_client(httpserver).list_calls(limit)
    (request,) = requests_to(httpserver)
    assert raw_uri(request) == f"{PLACE_PATH}?limit={sent}"
    check_common_headers(request)


@pytest.mark.parametrize("wire", [payloads.LIST_WITH_ID_ITEMS, payloads.LIST_WITH_CALLID_ITEMS])
def test_list_calls_reads_the_calls_array(httpserver: HTTPServer, wire: dict[str, Any]) -> None:
    httpserver.expect_request(PLACE_PATH, method="GET").respond_with_json(wire)
    calls = make_client(httpserver).list_calls()
    assert raw_uri(requests_to(httpserver)[0]) == f"{PLACE_PATH}?limit=20"
    assert isinstance(calls, list)
    assert all(isinstance(c, Call) for c in calls)
    assert [c["callId"] for c in calls] == [c.call_id for c in calls] == ["c2", "c1"]


def test_list_calls_empty(httpserver: HTTPServer) -> None:
    httpserver.expect_request(PLACE_PATH, method="GET").respond_with_json({"calls": []})
    assert make_client(httpserver).list_calls() == []


def test_one_session_serves_every_request(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/v1/agent/calls/c1").respond_with_json(payloads.COMPLETED_CALL)
    client = make_client(httpserver)
    session = client._transport._session
    for _ in range(3):
        client.get_call("c1")
    assert client._transport._session is session
    assert len(requests_to(httpserver)) == 3
