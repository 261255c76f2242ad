"""schemathesis against the running FakeServer: every reply conforms to spec/openapi.yaml.

Generated requests (valid and invalid, with a ``bys_ak_`` key) go to a live FakeServer over HTTP;
each reply must have a documented status, the documented content type and headers, and a body
that validates against the spec's schema for that status. The examples are bounded so the run
takes seconds; the generator is seeded by hypothesis's database like any other property test.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from byourside.testing import TEST_NUMBERS, FakeClock, FakeServer, Fault, Route

SPEC = Path(__file__).resolve().parent.parent / "spec" / "openapi.yaml"
CHECKS = [
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    negative_data_rejection,
    ignored_auth,
]

schema = schemathesis.openapi.from_path(SPEC)
# Undocumented query parameters are not invalid: the contract never says the service refuses them,
# and the fake ignores them as a tolerant service would (``?cursor=x&limit=5`` lists 5 calls).
schema.config.generation.update(allow_extra_parameters=False)


@schema.auth()
class AgentKey:
    """A ``bys_ak_`` key on every case, except those generated to test a missing or broken key."""

    def get(self, case: schemathesis.Case[Any], context: schemathesis.AuthContext) -> str:
        return "bys_ak_schemathesis"

    def set(self, case: schemathesis.Case[Any], data: str, context: schemathesis.AuthContext) -> None:
        case.headers["Authorization"] = f"Bearer {data}"


@pytest.fixture(scope="module")
def live_server() -> Iterator[FakeServer]:
    # Instant calls, so GETs and lists see every status from queued to terminal.
    with FakeServer(instant=True) as server:
        yield server


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_reply_conforms_to_the_spec(case: schemathesis.Case[Any], live_server: FakeServer) -> None:
    case.call_and_validate(base_url=live_server.base_url, checks=CHECKS)


# Random bodies almost never name a number the fake dials and a caller id it owns, so the run above
# rarely sees a 201. These take the generator's valid bodies, point them at the test numbers, and
# check the placement, the call at each point of its life and the list against the spec too.
PLACE = schema["/v1/agent/calls"]["POST"]
GET_ONE = schema["/v1/agent/calls/{id}"]["GET"]
LIST = schema["/v1/agent/calls"]["GET"]
CONFORMANCE = [
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
]
AUTH = {"Authorization": "Bearer bys_ak_schemathesis"}


@pytest.fixture(scope="module")
def clocked_server() -> Iterator[FakeServer]:
    with FakeServer(clock=FakeClock(), ring_seconds=1, talk_seconds=2) as server:
        yield server


def dialable(body: dict[str, Any], number: str) -> dict[str, Any]:
    """The generated body, made one the fake accepts: the guardrails have their own tests.

    It goes to ``number`` from the default caller id, with unique field names (the spec does not
    say names are unique; the fake refuses duplicates), an objective that is not only whitespace
    (the fake treats that as missing) and a webhook URL with a host.
    """
    fields = body.get("fields")
    accepted = {**body, "to": number}
    accepted.pop("callerId", None)
    if fields:
        accepted["fields"] = list({field["name"]: field for field in fields}.values())
    if not body["objective"].strip():
        accepted["objective"] = f"Say {body['objective']!r} and nothing else."
    if "webhookUrl" in body:
        accepted["webhookUrl"] = "https://hooks.example/bys"
    return accepted


@given(
    case=PLACE.as_strategy(),
    number=st.sampled_from(sorted(set(TEST_NUMBERS.values()) - {TEST_NUMBERS["blocked"]})),
    pauses=st.lists(st.sampled_from([0.0, 0.5, 1.0, 2.0, 3600.0]), min_size=1, max_size=3),
)
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_accepted_placements_and_their_calls_conform(
    clocked_server: FakeServer, case: schemathesis.Case[Any], number: str, pauses: list[float]
) -> None:
    assert isinstance(case.body, dict)
    case.body = dialable(case.body, number)
    case.headers.update(AUTH)
    placed = case.call(base_url=clocked_server.base_url)
    case.validate_response(placed, checks=CONFORMANCE)
    assert placed.status_code == 201, placed.text
    for pause in pauses:
        clocked_server.advance(pause)
        fetch = GET_ONE.Case(path_parameters={"id": placed.json()["callId"]}, headers=AUTH)
        fetch.validate_response(fetch.call(base_url=clocked_server.base_url), checks=CONFORMANCE)
    listing = LIST.Case(query={"limit": 100}, headers=AUTH)
    listed = listing.call(base_url=clocked_server.base_url)
    listing.validate_response(listed, checks=CONFORMANCE)
    assert listed.json()["calls"]


@pytest.mark.parametrize("fault", ["rate_limited", "over_minute_cap", "placement_failed", "store_error"])
def test_injected_error_replies_conform(clocked_server: FakeServer, fault: Fault) -> None:
    clocked_server.inject("post", fault)
    case = PLACE.Case(body={"to": TEST_NUMBERS["completed"], "objective": "Say hi"}, headers=AUTH)
    response = case.call(base_url=clocked_server.base_url)
    case.validate_response(response, checks=CONFORMANCE)
    assert response.json() == {"error": fault}


@pytest.mark.parametrize(
    ("route", "fault"),
    [("get", "rate_limited"), ("get", "store_error"), ("list", "rate_limited"), ("list", "store_error")],
)
def test_injected_error_replies_on_reads_conform(
    clocked_server: FakeServer, route: Route, fault: Fault
) -> None:
    clocked_server.inject(route, fault)
    if route == "get":
        case = GET_ONE.Case(path_parameters={"id": "call_x"}, headers=AUTH)
    else:
        case = LIST.Case(query={"limit": 5}, headers=AUTH)
    response = case.call(base_url=clocked_server.base_url)
    case.validate_response(response, checks=CONFORMANCE)
    assert response.json() == {"error": fault}
