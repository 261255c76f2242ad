"""FakeServer over plain HTTP: routes, replies, the bearer check, every guardrail token, records."""

from __future__ import annotations

import http.client
import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from byourside._generated import Call as WireCall
from byourside._generated import CallList, ErrorBody
from byourside._generated import PlacedCall as WirePlacedCall
from byourside.testing import DEFAULT_OWNED_NUMBERS, FakeClock, FakeServer
from tests.fake_server_support import SEED_FIELDS, SEED_OBJECTIVE, Api

SEED_NUMBER = "+14155550123"


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer(clock=FakeClock()) as started:
        yield started


@pytest.fixture
def api(server: FakeServer) -> Api:
    return Api(server)


def error_of(reply: requests.Response) -> str:
    """The token of an error reply, checked against the spec's ErrorBody."""
    assert reply.headers["Content-Type"] == "application/json"
    token: str = ErrorBody.model_validate(reply.json()).error
    assert reply.json() == {"error": token}
    return token


def test_base_url_is_loopback_on_a_free_port(server: FakeServer) -> None:
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", server.base_url)
    assert server.base_url.rsplit(":", 1)[1] != "0"


def test_place_answers_201_queued_with_language_and_voice(api: Api) -> None:
    reply = api.place(fields=SEED_FIELDS)
    assert reply.status_code == 201
    body = reply.json()
    WirePlacedCall.model_validate(body)
    assert body["status"] == "queued"
    assert body["callId"].startswith("call_")
    assert body["language"] == "en-US"
    assert body["languageSource"] == "inferred"
    assert body["voice"] == "Aoede"


def test_place_echoes_an_explicit_language_and_voice(api: Api) -> None:
    body = api.place(language="ru-RU", voice="Kore").json()
    assert (body["language"], body["languageSource"], body["voice"]) == ("ru-RU", "explicit", "Kore")


def test_language_auto_is_inferred_from_the_objective_script(api: Api) -> None:
    body = api.place(language="auto", objective="Подтвердите запись на завтра").json()
    assert (body["language"], body["languageSource"]) == ("ru-RU", "inferred")


def test_get_answers_the_call_keyed_id(api: Api) -> None:
    call_id = api.place_ok(fields=SEED_FIELDS, context="Patient of Dr. Lee")
    reply = api.get(call_id)
    assert reply.status_code == 200
    body = reply.json()
    WireCall.model_validate(body)
    assert body["id"] == call_id
    assert "callId" not in body
    assert body["status"] == "queued"
    assert body["to"] == SEED_NUMBER
    assert body["objective"] == SEED_OBJECTIVE
    assert body["context"] == "Patient of Dr. Lee"
    assert body["summary"] is None
    assert body["extracted"] is None


def test_get_url_decodes_the_id(api: Api) -> None:
    reply = api.get("no%20such%2Fcall")
    assert reply.status_code == 404
    assert error_of(reply) == "not_found"


def test_a_quoted_id_finds_its_call(api: Api) -> None:
    call_id = api.place_ok()
    quoted = "".join(f"%{byte:02X}" for byte in call_id.encode())
    assert api.get(quoted).json()["id"] == call_id


def test_unknown_id_is_not_found(api: Api) -> None:
    assert error_of(api.get("call_missing")) == "not_found"


def test_another_keys_call_is_not_found(server: FakeServer, api: Api) -> None:
    call_id = api.place_ok()
    other = Api(server, key="bys_ak_someone_else")
    reply = other.get(call_id)
    assert reply.status_code == 404
    assert error_of(reply) == "not_found"
    assert other.list().json() == {"calls": []}


def test_list_is_newest_first_keyed_callid(api: Api) -> None:
    ids = [api.place_ok() for _ in range(3)]
    reply = api.list()
    assert reply.status_code == 200
    listing = reply.json()
    CallList.model_validate(listing)
    assert [item["callId"] for item in listing["calls"]] == ids[::-1]
    assert all("id" not in item for item in listing["calls"])


def test_list_items_can_be_keyed_id() -> None:
    with FakeServer(list_id_key="id") as server:
        api = Api(server)
        call_id = api.place_ok()
        assert api.list().json()["calls"][0]["id"] == call_id


def test_list_defaults_to_20_and_honours_limit(api: Api) -> None:
    for _ in range(22):
        api.place_ok()
    assert len(api.list().json()["calls"]) == 20
    assert len(api.list("?limit=3").json()["calls"]) == 3
    assert len(api.list("?limit=100").json()["calls"]) == 22
    assert len(api.list("?limit=1").json()["calls"]) == 1


@pytest.mark.parametrize(
    "query",
    [
        "?limit=0",
        "?limit=101",
        "?limit=-1",
        "?limit=abc",
        "?limit=",
        "?limit=2.5",
        "?limit=1&limit=2",
        "?limit=%205",
        "?limit=1000",
    ],
)
def test_list_refuses_a_bad_limit(api: Api, query: str) -> None:
    reply = api.list(query)
    assert reply.status_code == 400
    assert error_of(reply) == "invalid_limit"


def test_list_ignores_unknown_query_parameters(api: Api) -> None:
    api.place_ok()
    assert len(api.list("?cursor=x&limit=5").json()["calls"]) == 1


def test_two_identical_posts_store_two_calls(server: FakeServer, api: Api) -> None:
    first, second = api.place_ok(), api.place_ok()
    assert first != second
    assert server.count_calls(SEED_NUMBER) == 2


# -- the bearer check -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer ", "Bearer bys_ak_", "Bearer sk_live_123", "Basic bys_ak_x", "bys_ak_x"],
)
def test_missing_or_malformed_keys_are_unauthorized(server: FakeServer, authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    for method, path in [
        ("POST", "/v1/agent/calls"),
        ("GET", "/v1/agent/calls"),
        ("GET", "/v1/agent/calls/x"),
    ]:
        reply = requests.request(method, server.base_url + path, headers=headers, json={}, timeout=5)
        assert reply.status_code == 401
        assert error_of(reply) == "unauthorized"
    assert server.count_calls() == 0


def test_the_seeds_placeholder_key_passes_by_default(server: FakeServer) -> None:
    assert Api(server, key="bys_ak_YOUR_KEY").place().status_code == 201


def test_a_configured_key_is_the_only_one_accepted() -> None:
    with FakeServer(api_key="bys_ak_exact") as server:
        assert server.api_key == "bys_ak_exact"
        assert Api(server).place().status_code == 201
        assert error_of(Api(server, key="bys_ak_other").place()) == "unauthorized"
        assert error_of(Api(server, key="bys_ak_exac").list()) == "unauthorized"


def test_the_bearer_scheme_is_case_insensitive(server: FakeServer) -> None:
    reply = requests.get(
        server.base_url + "/v1/agent/calls", headers={"Authorization": f"bearer {server.api_key}"}, timeout=5
    )
    assert reply.status_code == 200


# -- every guardrail token ------------------------------------------------------------------

GOOD: dict[str, Any] = {"to": SEED_NUMBER, "objective": SEED_OBJECTIVE}


def with_(**changes: Any) -> dict[str, Any]:
    body = {**GOOD, **changes}
    return {key: value for key, value in body.items() if value is not _DROP}


_DROP = object()

REFUSALS: list[tuple[str, Any, int, str]] = [
    ("to missing", with_(to=_DROP), 400, "to_required"),
    ("to null", with_(to=None), 400, "to_required"),
    ("to empty", with_(to=""), 400, "to_required"),
    ("objective missing", with_(objective=_DROP), 400, "objective_required"),
    ("objective empty", with_(objective=""), 400, "objective_required"),
    ("objective blank", with_(objective="  \n"), 400, "objective_required"),
    ("objective a number", with_(objective=5), 400, "objective_required"),
    ("both missing: to first", {}, 400, "to_required"),
    ("to without plus", with_(to="14155550123"), 400, "invalid_number"),
    ("to with spaces", with_(to="+1 415 555 0123"), 400, "invalid_number"),
    ("to too long", with_(to="+4412345678901234"), 400, "invalid_number"),
    ("to leading zero", with_(to="+0123456789"), 400, "invalid_number"),
    ("NANP too short", with_(to="+1415555012"), 400, "invalid_number"),
    ("NANP area code 1xx", with_(to="+11155550123"), 400, "invalid_number"),
    ("to a number", with_(to=14155550123), 400, "invalid_number"),
    ("seed's premium number", with_(to="+19001234567"), 400, "destination_blocked"),
    ("NANP 976", with_(to="+19765550123"), 400, "destination_blocked"),
    ("GB premium 09", with_(to="+449098790123"), 400, "destination_blocked"),
    ("GB 0871", with_(to="+448712345678"), 400, "destination_blocked"),
    ("AU 1900", with_(to="+611900123456"), 400, "destination_blocked"),
    ("NZ 0900", with_(to="+649001234567"), 400, "destination_blocked"),
    ("IL 1-900", with_(to="+9721900123456"), 400, "destination_blocked"),
    ("France", with_(to="+33123456789"), 400, "destination_blocked"),
    ("Russia", with_(to="+74951234567"), 400, "destination_blocked"),
    ("satellite", with_(to="+881612345678"), 400, "destination_blocked"),
    ("21 fields", with_(fields=[{"name": f"f{i}"} for i in range(21)]), 400, "too_many_fields"),
    ("field type date", with_(fields=[{"name": "when", "type": "date"}]), 400, "invalid_field_type"),
    ("field type list", with_(fields=[{"name": "when", "type": ["string"]}]), 400, "invalid_field_type"),
    ("field without name", with_(fields=[{"type": "string"}]), 400, "field_name_required"),
    ("field name empty", with_(fields=[{"name": ""}]), 400, "field_name_required"),
    (
        "duplicate field",
        with_(fields=[{"name": "a"}, {"name": "a", "type": "number"}]),
        400,
        "duplicate_field_name",
    ),
    ("fields not a list", with_(fields={"name": "a"}), 400, "invalid_body"),
    ("field not an object", with_(fields=["confirmed"]), 400, "invalid_body"),
    ("context a number", with_(context=5), 400, "invalid_body"),
    ("voice a list", with_(voice=["Kore"]), 400, "invalid_body"),
    ("webhook plain http", with_(webhookUrl="http://example.com/hook"), 400, "invalid_webhook_url"),
    ("webhook ftp", with_(webhookUrl="ftp://127.0.0.1/hook"), 400, "invalid_webhook_url"),
    ("webhook no host", with_(webhookUrl="https:///hook"), 400, "invalid_webhook_url"),
    ("webhook a number", with_(webhookUrl=5), 400, "invalid_webhook_url"),
    ("caller id not owned", with_(callerId="+14155550199"), 403, "caller_id_not_owned"),
    ("caller id malformed", with_(callerId="nope"), 403, "caller_id_not_owned"),
    ("body a list", [GOOD], 400, "invalid_body"),
    ("body a string", "hello", 400, "invalid_body"),
    ("body null", None, 400, "invalid_body"),
]


@pytest.mark.parametrize(("body", "status", "token"), [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS])
def test_every_refusal_has_its_token_and_stores_nothing(
    server: FakeServer, body: Any, status: int, token: str
) -> None:
    reply = requests.post(
        f"{server.base_url}/v1/agent/calls",
        data=json.dumps(body),
        headers={"Authorization": f"Bearer {server.api_key}", "Content-Type": "application/json"},
        timeout=5,
    )
    assert reply.status_code == status
    assert error_of(reply) == token
    assert server.count_calls() == 0


@pytest.mark.parametrize("raw", [b"", b"{", b"not json", b"\xff\xfe", b'{"to": "+14155550123",}'])
def test_a_body_that_is_not_json_is_invalid_body(server: FakeServer, raw: bytes) -> None:
    reply = requests.post(
        f"{server.base_url}/v1/agent/calls",
        data=raw,
        headers={"Authorization": f"Bearer {server.api_key}"},
        timeout=5,
    )
    assert reply.status_code == 400
    assert error_of(reply) == "invalid_body"


ACCEPTED: list[tuple[str, dict[str, Any]]] = [
    ("20 fields", with_(fields=[{"name": f"f{i}", "type": "number"} for i in range(20)])),
    ("field type null means string", with_(fields=[{"name": "a", "type": None}])),
    ("owned caller id", with_(callerId=DEFAULT_OWNED_NUMBERS[0])),
    ("https webhook anywhere", with_(webhookUrl="https://example.com/hook")),
    ("http webhook to loopback", with_(webhookUrl="http://127.0.0.1:9/hook")),
    ("http webhook to localhost", with_(webhookUrl="http://localhost:9/hook")),
    ("http webhook to ::1", with_(webhookUrl="http://[::1]:9/hook")),
    ("GB", with_(to="+442079460123")),
    ("AU", with_(to="+61291234567")),
    ("NZ", with_(to="+6493001234")),
    ("IL", with_(to="+972501234567")),
    ("CA", with_(to="+16045550123")),
    ("unknown keys ignored", with_(priority="high", metadata={"a": 1})),
    ("optional keys null", with_(context=None, fields=None, webhookUrl=None, callerId=None, voice=None)),
]


@pytest.mark.parametrize("body", [a[1] for a in ACCEPTED], ids=[a[0] for a in ACCEPTED])
def test_valid_placements_are_accepted(server: FakeServer, api: Api, body: dict[str, Any]) -> None:
    assert api.place(body).status_code == 201
    assert server.count_calls() == 1


def test_owned_numbers_are_configurable() -> None:
    with FakeServer(owned_numbers=["+442079460000"]) as server:
        api = Api(server)
        assert api.place(callerId="+442079460000").status_code == 201
        assert error_of(api.place(callerId=DEFAULT_OWNED_NUMBERS[0])) == "caller_id_not_owned"


# -- routing ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/", "/v1/agent", "/v2/agent/calls", "/v1/agent/calls/", "/v1/agent/calls/a/b"]
)
def test_unknown_paths_are_not_found(server: FakeServer, path: str) -> None:
    reply = requests.get(
        server.base_url + path, headers={"Authorization": f"Bearer {server.api_key}"}, timeout=5
    )
    assert reply.status_code == 404
    assert error_of(reply) == "not_found"


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", "/v1/agent/calls", "GET, POST"),
        ("PUT", "/v1/agent/calls/x", "GET"),
        ("POST", "/v1/agent/calls/x", "GET"),
    ],
)
def test_other_methods_are_not_allowed(server: FakeServer, method: str, path: str, allow: str) -> None:
    reply = requests.request(method, server.base_url + path, timeout=5)
    assert reply.status_code == 405
    assert reply.headers["Allow"] == allow
    assert error_of(reply) == "method_not_allowed"


def test_keep_alive_serves_several_requests_on_one_connection(server: FakeServer) -> None:
    host, port = server.base_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    headers = {"Authorization": f"Bearer {server.api_key}", "Content-Type": "application/json"}
    try:
        for _ in range(3):
            connection.request("POST", "/v1/agent/calls", body=json.dumps(GOOD), headers=headers)
            response = connection.getresponse()
            assert response.status == 201
            json.loads(response.read())
    finally:
        connection.close()
    assert server.count_calls() == 3


def test_a_chunked_body_is_read_whole(server: FakeServer) -> None:
    chunks = iter([json.dumps(GOOD).encode()[:10], json.dumps(GOOD).encode()[10:]])
    reply = requests.post(
        f"{server.base_url}/v1/agent/calls",
        data=chunks,
        headers={"Authorization": f"Bearer {server.api_key}", "Content-Type": "application/json"},
        timeout=5,
    )
    assert reply.status_code == 201
    assert server.requests[-1].header("Transfer-Encoding") == "chunked"


# -- records ------------------------------------------------------------------------------------


def test_every_request_is_recorded_as_received(server: FakeServer, api: Api) -> None:
    call_id = api.place_ok(fields=SEED_FIELDS)
    api.get(call_id)
    api.list("?limit=5")
    requests.get(server.base_url + "/v1/agent/calls", timeout=5)  # unauthorized: recorded too
    recorded = server.requests
    assert [(r.method, r.path, r.query) for r in recorded] == [
        ("POST", "/v1/agent/calls", ""),
        ("GET", f"/v1/agent/calls/{call_id}", ""),
        ("GET", "/v1/agent/calls", "limit=5"),
        ("GET", "/v1/agent/calls", ""),
    ]
    assert recorded[0].json() == {"to": SEED_NUMBER, "objective": SEED_OBJECTIVE, "fields": SEED_FIELDS}
    assert recorded[0].header("authorization") == f"Bearer {server.api_key}"
    assert recorded[3].header("Authorization") is None


def test_a_recorded_request_never_shows_the_key_in_its_repr(server: FakeServer, api: Api) -> None:
    api.place_ok()
    assert server.api_key not in repr(server.requests[0])


def test_calls_lists_every_stored_call_oldest_first(server: FakeServer) -> None:
    mine, theirs = Api(server), Api(server, key="bys_ak_other")
    first = mine.place_ok()
    second = theirs.place_ok(to="+14155550001")
    assert [call.call_id for call in server.calls] == [first, second]
    assert server.count_calls() == 2
    assert server.count_calls("+14155550001") == 1
    assert server.count_calls("+14155559999") == 0


# -- the package and its lifecycle ---------------------------------------------------------------


def test_the_public_names_are_pinned_and_resolve() -> None:
    import byourside.testing as testing

    assert testing.__all__ == [
        "ALLOWED_COUNTRY_CODES",
        "BLOCKED_PREFIXES",
        "DEFAULT_API_KEY",
        "DEFAULT_OWNED_NUMBERS",
        "DEFAULT_WEBHOOK_SECRET",
        "TEST_NUMBERS",
        "Clock",
        "FakeClock",
        "FakeServer",
        "Fault",
        "Outcome",
        "RecordedRequest",
        "Route",
        "SystemClock",
        "WebhookDelivery",
        "outcome_for",
    ]
    assert all(getattr(testing, name) is not None for name in testing.__all__)
    assert dir(testing) == sorted(testing.__all__)
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        testing.Nope  # noqa: B018 - the lookup is the test


def test_importing_the_plugin_starts_nothing_and_loads_no_server_module() -> None:
    code = (
        "import sys, threading, byourside.testing.plugin; "
        "print(threading.active_count(), sorted(m for m in sys.modules if m.startswith('byourside.testing')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.split(" ", 1) == ["1", "['byourside.testing', 'byourside.testing.plugin']\n"]


def test_stop_closes_idle_connections_and_the_server_starts_again() -> None:
    def connection_threads() -> int:
        return sum(1 for thread in threading.enumerate() if "process_request" in thread.name)

    others = connection_threads()  # other servers' connections, if any test left one open
    server = FakeServer()
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {server.api_key}"
    with server:
        assert session.get(f"{server.base_url}/v1/agent/calls", timeout=5).status_code == 200
        assert connection_threads() == others + 1  # the keep-alive connection awaits its next request
    assert repr(server) == "FakeServer(stopped)"
    ended = threading.Event()
    for _ in range(500):  # the thread ends as soon as its socket is shut; poll briefly for it
        if connection_threads() == others:
            ended.set()
            break
        ended.wait(0.01)
    assert ended.is_set(), "stop() left an idle keep-alive connection open"
    with server:
        assert session.get(f"{server.base_url}/v1/agent/calls", timeout=5).status_code == 200
    session.close()


def test_base_url_needs_a_started_server() -> None:
    with pytest.raises(RuntimeError, match="not started"):
        _ = FakeServer().base_url
