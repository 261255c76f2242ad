"""From replies to errors, over real HTTP: every token of the contract, unknown tokens, every
malformed reply, `may_have_placed`, the request id, and the key absent from errors and logs."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError
from pytest_httpserver import HTTPServer

from byourside import (
    AuthenticationError,
    ByoursideError,
    Client,
    InvalidRequestError,
    InvalidResponseError,
    NotFoundError,
    RateLimitError,
    ServiceUnavailableError,
    UsageCapError,
)
from byourside.errors import CODE_MESSAGES, SERVER_TOKENS
from tests import payloads
from tests.client_support import (
    API_KEY,
    PLACE_PATH,
    TO,
    Sleeps,
    make_client,
    raw_server,
    refused_url,
    reply,
    requests_to,
    script,
)

# The contract's tokens with the statuses the spec fixes, and the class each must become.
TOKENS: dict[str, tuple[int, type[ByoursideError]]] = {
    "to_required": (400, InvalidRequestError),
    "objective_required": (400, InvalidRequestError),
    "invalid_number": (400, InvalidRequestError),
    "destination_blocked": (400, InvalidRequestError),
    "caller_id_not_owned": (403, InvalidRequestError),
    "unauthorized": (401, AuthenticationError),
    "not_found": (404, NotFoundError),
    "rate_limited": (429, RateLimitError),
    "over_minute_cap": (429, UsageCapError),
    "placement_failed": (502, ServiceUnavailableError),
    "store_error": (503, ServiceUnavailableError),
    "too_many_fields": (400, InvalidRequestError),
    "invalid_field_type": (400, InvalidRequestError),
    # The fake server's tokens where the service is silent (the spec marks them as our choice).
    "field_name_required": (400, InvalidRequestError),
    "duplicate_field_name": (400, InvalidRequestError),
    "invalid_webhook_url": (400, InvalidRequestError),
    "invalid_body": (400, InvalidRequestError),
    "invalid_limit": (400, InvalidRequestError),
    "method_not_allowed": (405, InvalidRequestError),
}

Operation = Callable[[Client], object]
OPERATIONS: dict[str, tuple[str, str, Operation]] = {
    "place_call": ("POST", PLACE_PATH, lambda c: c.place_call(TO, "Confirm", max_retries=0)),
    "get_call": ("GET", "/v1/agent/calls/c1", lambda c: c.get_call("c1", max_retries=0)),
    "list_calls": ("GET", PLACE_PATH, lambda c: c.list_calls(max_retries=0)),
}


def test_the_table_covers_every_token_of_the_contract() -> None:
    assert set(TOKENS) == SERVER_TOKENS >= set(payloads.SERVER_ERROR_TOKENS)


def fail(httpserver: HTTPServer, operation: str, response: Any) -> ByoursideError:
    method, path, run = OPERATIONS[operation]
    script(httpserver, path, [response], method=method)
    with pytest.raises(ByoursideError) as caught:
        run(make_client(httpserver))
    error = caught.value
    # Never a parsing exception in disguise.
    assert not isinstance(error, (ValueError, KeyError, TypeError, ValidationError))
    return error


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
@pytest.mark.parametrize("token", sorted(TOKENS))
def test_each_token_becomes_its_class(httpserver: HTTPServer, token: str, operation: str) -> None:
    status, cls = TOKENS[token]
    error = fail(httpserver, operation, reply(status, {"error": token}, headers={"X-Request-Id": "req_42"}))
    assert type(error) is cls
    assert (error.code, error.status, error.request_id) == (token, status, "req_42")
    assert error.message == CODE_MESSAGES[token]
    assert str(error) == f"{token}: {CODE_MESSAGES[token]} (HTTP {status}) [request id req_42]"
    assert error.body == f'{{"error": "{token}"}}'.encode()
    assert error.may_have_placed is False  # a known token proves nothing was placed


@pytest.mark.parametrize("token", sorted(TOKENS))
@pytest.mark.parametrize("status", [400, 409, 429, 500, 503])
def test_the_token_wins_over_the_status(httpserver: HTTPServer, token: str, status: int) -> None:
    error = fail(httpserver, "get_call", reply(status, {"error": token}))
    assert type(error) is TOKENS[token][1]
    assert (error.code, error.status) == (token, status)


def test_extra_keys_on_an_error_body_are_tolerated(httpserver: HTTPServer) -> None:
    body = {"error": "destination_blocked", "message": "Premium-rate number", "details": {"cc": "US"}}
    error = fail(httpserver, "place_call", reply(400, body))
    assert (type(error), error.code) == (InvalidRequestError, "destination_blocked")


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, InvalidRequestError),
        (401, AuthenticationError),
        (403, AuthenticationError),
        (404, NotFoundError),
        (409, InvalidRequestError),
        (422, InvalidRequestError),
        (429, RateLimitError),
        (500, ServiceUnavailableError),
        (503, ServiceUnavailableError),
    ],
)
def test_an_unknown_token_is_kept_and_classed_by_status(
    httpserver: HTTPServer, status: int, cls: type[ByoursideError]
) -> None:
    error = fail(httpserver, "get_call", reply(status, {"error": "quantum_flux"}))
    assert type(error) is cls
    assert (error.code, error.status) == ("quantum_flux", status)
    assert "quantum_flux" in error.message


HTML_502 = b"<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>"

MALFORMED: list[tuple[str, Any, type[ByoursideError], str]] = [
    # (name, reply, class, code)
    ("html 502 page", reply(502, raw=HTML_502), InvalidResponseError, "invalid_response"),
    ("html 404 page", reply(404, raw=b"<h1>Not Found</h1>"), InvalidResponseError, "invalid_response"),
    ("truncated json 200", reply(200, raw=b'{"id": "c1", "sta'), InvalidResponseError, "invalid_response"),
    ("truncated json 400", reply(400, raw=b'{"error": "destina'), InvalidResponseError, "invalid_response"),
    (
        "json array 200",
        reply(200, [{"id": "c1", "status": "queued"}]),
        InvalidResponseError,
        "invalid_response",
    ),
    ("json array 400", reply(400, ["destination_blocked"]), InvalidResponseError, "invalid_response"),
    ("json string 200", reply(200, "ok"), InvalidResponseError, "invalid_response"),
    ("json null 200", reply(200, None), InvalidResponseError, "invalid_response"),
    ("2xx not json", reply(200, raw=b"OK"), InvalidResponseError, "invalid_response"),
    ("2xx empty", reply(200, raw=b""), InvalidResponseError, "invalid_response"),
    ("2xx not utf-8", reply(200, raw=b"\xff\xfe{}"), InvalidResponseError, "invalid_response"),
    ("2xx deeply nested", reply(200, raw=b"[" * 100_000), InvalidResponseError, "invalid_response"),
    (
        "2xx object of the wrong shape",
        reply(200, {"calls": 3, "status": 7}),
        InvalidResponseError,
        "invalid_response",
    ),
    ("4xx without error", reply(400, {"message": "bad request"}), InvalidRequestError, "error"),
    ("404 without error", reply(404, {}), NotFoundError, "error"),
    ("401 without error", reply(401, {"detail": "nope"}), AuthenticationError, "error"),
    ("5xx without error", reply(503, {"detail": "down"}), ServiceUnavailableError, "error"),
    ("error not a string", reply(400, {"error": {"code": "x"}}), InvalidResponseError, "invalid_response"),
    ("error null", reply(400, {"error": None}), InvalidResponseError, "invalid_response"),
    ("error empty", reply(400, {"error": ""}), InvalidResponseError, "invalid_response"),
    ("5xx empty", reply(500, raw=b""), InvalidResponseError, "invalid_response"),
    (
        "redirect",
        reply(302, raw=b"", headers={"Location": "/elsewhere"}),
        InvalidResponseError,
        "invalid_response",
    ),
]


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
@pytest.mark.parametrize(("name", "response", "cls", "code"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_replies_are_precise_errors(
    httpserver: HTTPServer, operation: str, name: str, response: Any, cls: type[ByoursideError], code: str
) -> None:
    response.headers["X-Request-Id"] = "req_bad"
    error = fail(httpserver, operation, response)
    assert type(error) is cls, name
    assert (error.code, error.status, error.request_id) == (code, response.status_code, "req_bad")
    assert error.body == response.get_data()[: 64 * 1024]  # kept as received, at most 64 KiB
    assert len(requests_to(httpserver)) == 1  # a redirect is not followed


@pytest.mark.parametrize(
    ("response", "may_have_placed"),
    [
        (reply(502, raw=HTML_502), True),  # a 5xx without a token: outcome unknown
        (reply(500, {"error": "internal"}), True),  # an unknown token on a 5xx
        (reply(500, {}), True),
        (reply(201, raw=b"OK"), True),  # accepted, but the body cannot be read
        (reply(201, {"status": "queued"}), True),  # accepted, no callId
        (reply(302, raw=b"", headers={"Location": "/x"}), True),
        (reply(400, {}), False),  # a 4xx is a refusal
        (reply(404, raw=b"<h1>Not Found</h1>"), False),
        (reply(400, {"error": "destination_blocked"}), False),
        (reply(502, {"error": "placement_failed"}), False),  # the token proves nothing was placed
        (reply(503, {"error": "store_error"}), False),
        (reply(429, {"error": "over_minute_cap"}), False),
    ],
)
def test_may_have_placed_only_when_the_reply_does_not_prove_nothing_was_placed(
    httpserver: HTTPServer, response: Any, may_have_placed: bool
) -> None:
    sleeps = Sleeps()
    script(httpserver, PLACE_PATH, [response], method="POST")
    with pytest.raises(ByoursideError) as caught:
        make_client(httpserver, record_sleeps=sleeps).place_call(TO, "Confirm", max_retries=0)
    assert caught.value.may_have_placed is may_have_placed
    assert ("list_calls()" in caught.value.message) is may_have_placed
    assert len(requests_to(httpserver)) == 1


def test_a_get_is_never_may_have_placed(httpserver: HTTPServer) -> None:
    error = fail(httpserver, "get_call", reply(502, raw=HTML_502))
    assert error.may_have_placed is False


@pytest.mark.parametrize(("token", "status"), [("rate_limited", 429), ("store_error", 503)])
def test_retry_after_is_read_onto_the_error(httpserver: HTTPServer, token: str, status: int) -> None:
    error = fail(httpserver, "get_call", reply(status, {"error": token}, headers={"Retry-After": "7"}))
    assert isinstance(error, (RateLimitError, ServiceUnavailableError))
    assert error.retry_after == 7.0


def test_retry_after_absent_or_unreadable_is_none(httpserver: HTTPServer) -> None:
    error = fail(
        httpserver, "get_call", reply(429, {"error": "rate_limited"}, headers={"Retry-After": "soon"})
    )
    assert isinstance(error, RateLimitError)
    assert error.retry_after is None


# -- the key never shows --------------------------------------------------------------------


def every_kind_of_failure(httpserver: HTTPServer) -> list[ByoursideError]:
    errors: list[ByoursideError] = []
    replies = [reply(s, {"error": t}) for t, (s, _) in TOKENS.items()]
    replies += [m[1] for m in MALFORMED]
    script(httpserver, "/v1/agent/calls/c1", replies)
    client = make_client(httpserver, record_sleeps=Sleeps())
    for _ in replies:
        with pytest.raises(ByoursideError) as caught:
            client.get_call("c1", max_retries=0)
        errors.append(caught.value)
    for url in (refused_url(),):
        with pytest.raises(ByoursideError) as caught:
            Client(API_KEY, url, timeout=(1, 1), max_retries=0).place_call(TO, "Confirm")
        errors.append(caught.value)
    with raw_server("drop") as dropping, pytest.raises(ByoursideError) as caught:
        Client(API_KEY, dropping.url, timeout=(1, 1)).place_call(TO, "Confirm")
    errors.append(caught.value)
    with pytest.raises(ByoursideError) as caught:
        client.place_call("not a number", "Confirm")
    errors.append(caught.value)
    with pytest.raises(ByoursideError) as caught:
        client.wait_for_call("c1", timeout=0)
    errors.append(caught.value)
    return errors


def test_the_key_never_appears_in_errors_or_debug_logs(
    httpserver: HTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger: ours, urllib3's, requests'
    errors = every_kind_of_failure(httpserver)
    assert len(errors) == len(TOKENS) + len(MALFORMED) + 4
    for error in errors:
        for text in (str(error), repr(error), error.message, (error.body or b"").decode("latin-1")):
            assert API_KEY not in text
        assert error.__cause__ is None or API_KEY not in str(error.__cause__)
    ours = [r for r in caplog.records if r.name == "byourside"]
    assert any(r.levelno == logging.DEBUG and "/v1/agent/calls" in r.getMessage() for r in ours)
    assert any(r.name.startswith("urllib3") for r in caplog.records)
    for record in caplog.records:
        message = record.getMessage()
        assert API_KEY not in message
        assert "Bearer" not in message
        assert "Authorization" not in message
    assert API_KEY not in caplog.text
