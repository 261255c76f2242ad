"""FakeServer calls over time: the lifecycle on a driven clock, the outcomes table, the limits."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from byourside._generated import Call as WireCall
from byourside._generated import FieldSpec
from byourside.testing import TEST_NUMBERS, FakeClock, FakeServer, SystemClock, outcome_for
from byourside.testing._limits import billable_minutes
from byourside.testing._outcomes import extracted_value
from tests.fake_server_support import SEED_FIELDS, SEED_OBJECTIVE, Api

START = datetime(2030, 1, 1, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer(clock=FakeClock(START), ring_seconds=2, talk_seconds=10) as started:
        yield started


@pytest.fixture
def api(server: FakeServer) -> Api:
    return Api(server)


def test_a_call_moves_queued_in_progress_completed_as_the_clock_advances(
    server: FakeServer, api: Api
) -> None:
    call_id = api.place_ok(fields=SEED_FIELDS)
    assert api.status(call_id) == "queued"
    server.advance(1.9)
    assert api.status(call_id) == "queued"
    server.advance(0.1)
    assert api.status(call_id) == "in_progress"
    server.advance(9.9)
    assert api.status(call_id) == "in_progress"
    server.advance(0.1)
    body = api.get(call_id).json()
    WireCall.model_validate(body)
    assert body["status"] == "completed"
    assert body["startedAt"] == "2030-01-01T09:00:02Z"
    assert body["endedAt"] == "2030-01-01T09:00:12Z"
    assert body["extracted"] == {"confirmed": True, "new_time": "tomorrow at 3pm"}
    assert SEED_OBJECTIVE in body["transcript"]
    assert body["summary"]
    assert body["recordingUrl"] == f"https://recordings.byourside.invalid/{call_id}.mp3"


def test_a_terminal_status_never_changes(server: FakeServer, api: Api) -> None:
    call_id = api.place_ok()
    server.advance(12)
    first = api.get(call_id).json()
    server.advance(3600)
    assert api.get(call_id).json() == first


def test_an_in_progress_call_has_started_but_no_results(server: FakeServer, api: Api) -> None:
    call_id = api.place_ok(fields=SEED_FIELDS)
    server.advance(5)
    body = api.get(call_id).json()
    assert body["startedAt"] == "2030-01-01T09:00:02Z"
    assert body["endedAt"] is None
    assert (body["summary"], body["extracted"], body["transcript"], body["recordingUrl"]) == (None,) * 4


def test_instant_calls_end_at_once_yet_are_placed_queued() -> None:
    with FakeServer(instant=True) as server:
        api = Api(server)
        placed = api.place(fields=SEED_FIELDS).json()
        assert placed["status"] == "queued"
        assert api.status(placed["callId"]) == "completed"


def test_the_list_shows_current_statuses(server: FakeServer, api: Api) -> None:
    done = api.place_ok()
    server.advance(12)
    fresh = api.place_ok()
    statuses = {item["callId"]: item["status"] for item in api.list().json()["calls"]}
    assert statuses == {done: "completed", fresh: "queued"}


def test_durations_changed_at_runtime_apply_to_later_calls(server: FakeServer, api: Api) -> None:
    slow = api.place_ok()
    server.ring_seconds, server.talk_seconds = 0, 1
    quick = api.place_ok()
    server.advance(1)
    assert (api.status(quick), api.status(slow)) == ("completed", "queued")


def test_under_real_time_the_background_thread_moves_calls() -> None:
    # The only test that lets real time pass: a few milliseconds, waited on an event, not a sleep.
    with FakeServer(ring_seconds=0.01, talk_seconds=0.01) as server:
        api = Api(server)
        call_id = api.place_ok()
        ended = threading.Event()

        def poll() -> None:
            while api.status(call_id) != "completed":
                ended.wait(0.01)
            ended.set()

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        assert ended.wait(5), "the call never completed under real time"
        assert isinstance(server.clock, SystemClock)


def test_advance_needs_a_fake_clock() -> None:
    with FakeServer() as server, pytest.raises(TypeError, match="FakeClock"):
        server.advance(1)


def test_a_fake_clock_never_goes_backwards() -> None:
    with pytest.raises(ValueError, match="backwards"):
        FakeClock().advance(-1)
    with pytest.raises(ValueError, match="timezone-aware"):
        FakeClock(datetime(2030, 1, 1))


# -- the outcomes table ------------------------------------------------------------------------

OUTCOMES = [
    # number, statuses seen after ring, after talk, whether the callee answered
    (TEST_NUMBERS["completed"], "in_progress", "completed", True),
    (TEST_NUMBERS["no_answer"], "no_answer", "no_answer", False),
    (TEST_NUMBERS["voicemail"], "in_progress", "voicemail", True),
    (TEST_NUMBERS["declined"], "declined", "declined", False),
    (TEST_NUMBERS["failed"], "failed", "failed", False),
    (TEST_NUMBERS["nothing_obtained"], "in_progress", "completed", True),
    (TEST_NUMBERS["never_ends"], "in_progress", "in_progress", True),
    (TEST_NUMBERS["unknown_status"], "in_progress", "completed", True),
    ("+442079460001", "no_answer", "no_answer", False),
    ("+61291230002", "in_progress", "voicemail", True),
]


@pytest.mark.parametrize(("number", "after_ring", "after_talk", "answered"), OUTCOMES)
def test_each_number_ends_as_the_table_says(
    server: FakeServer, api: Api, number: str, after_ring: str, after_talk: str, answered: bool
) -> None:
    call_id = api.place_ok(to=number, fields=SEED_FIELDS)
    server.advance(2)
    assert api.status(call_id) == after_ring
    server.advance(10)
    body = api.get(call_id).json()
    assert body["status"] == after_talk
    assert (body["startedAt"] is not None) == answered
    server.advance(86400)
    assert api.status(call_id) == after_talk


def test_the_undocumented_status_appears_between_queued_and_in_progress(server: FakeServer, api: Api) -> None:
    call_id = api.place_ok(to=TEST_NUMBERS["unknown_status"])
    server.advance(1)
    assert api.status(call_id) == "ringing"


@pytest.mark.parametrize(
    "number", [TEST_NUMBERS["no_answer"], TEST_NUMBERS["declined"], TEST_NUMBERS["failed"]]
)
def test_an_unanswered_call_has_no_recording_transcript_or_values(
    server: FakeServer, api: Api, number: str
) -> None:
    call_id = api.place_ok(to=number, fields=SEED_FIELDS)
    server.advance(2)
    body = api.get(call_id).json()
    assert body["endedAt"] == "2030-01-01T09:00:02Z"
    assert (body["startedAt"], body["transcript"], body["recordingUrl"]) == (None, None, None)
    assert body["extracted"] == {"confirmed": None, "new_time": None}
    assert body["summary"]


def test_voicemail_leaves_a_message_and_obtains_nothing(server: FakeServer, api: Api) -> None:
    call_id = api.place_ok(to=TEST_NUMBERS["voicemail"], fields=SEED_FIELDS)
    server.advance(12)
    body = api.get(call_id).json()
    assert body["extracted"] == {"confirmed": None, "new_time": None}
    assert "voicemail" in body["summary"]
    assert SEED_OBJECTIVE in body["transcript"]
    assert body["recordingUrl"]


def test_nothing_obtained_completes_with_null_values(server: FakeServer, api: Api) -> None:
    call_id = api.place_ok(to=TEST_NUMBERS["nothing_obtained"], fields=SEED_FIELDS)
    server.advance(12)
    body = api.get(call_id).json()
    assert body["status"] == "completed"
    assert body["extracted"] == {"confirmed": None, "new_time": None}


def test_a_call_without_fields_extracts_an_empty_object(server: FakeServer, api: Api) -> None:
    call_id = api.place_ok()
    server.advance(12)
    assert api.get(call_id).json()["extracted"] == {}


def test_extracted_values_fit_each_fields_type_and_repeat_exactly(server: FakeServer, api: Api) -> None:
    fields = [
        {"name": "confirmed", "type": "boolean"},
        {"name": "party_size", "type": "number"},
        {"name": "quoted_price", "type": "number"},
        {"name": "mystery", "type": "number"},
        {"name": "new_time"},
        {"name": "contact_email", "type": "string"},
        {"name": "favourite_colour", "type": "string", "description": "their favourite colour"},
    ]
    first, second = api.place_ok(fields=fields), api.place_ok(fields=fields)
    server.advance(12)
    extracted = api.get(first).json()["extracted"]
    assert extracted == api.get(second).json()["extracted"]
    assert extracted["confirmed"] is True
    assert extracted["party_size"] == 2
    assert extracted["quoted_price"] == 120
    assert isinstance(extracted["mystery"], int)
    assert not isinstance(extracted["mystery"], bool)
    assert extracted["new_time"] == "tomorrow at 3pm"
    assert extracted["contact_email"] == "alex.morgan@example.com"
    assert extracted["favourite_colour"] == "the callee's favourite colour"
    assert "their favourite colour" in api.get(first).json()["transcript"]


@given(name=st.text(min_size=1, max_size=40), field_type=st.sampled_from(["string", "boolean", "number"]))
def test_every_extracted_value_fits_its_type(name: str, field_type: str) -> None:
    value = extracted_value(FieldSpec(name=name, type=field_type))  # type: ignore[arg-type]
    expected = {"string": str, "boolean": bool, "number": int}[field_type]
    assert type(value) is expected
    assert value == extracted_value(FieldSpec(name=name, type=field_type))  # type: ignore[arg-type]


@given(st.from_regex(r"\+1[2-9][0-9]{9}", fullmatch=True))
def test_every_number_has_exactly_one_documented_outcome(number: str) -> None:
    outcome = outcome_for(number)
    special = {"0001", "0002", "0003", "0004", "0005", "0006", "0007"}
    assert (outcome.status == "completed" and outcome.values_obtained and outcome.interim_status is None) == (
        number[-4:] not in special
    )


# -- limits -------------------------------------------------------------------------------------


def test_limits_are_off_by_default(server: FakeServer, api: Api) -> None:
    for _ in range(30):
        api.place_ok()
    assert (server.rate_limit, server.minute_cap) == (None, None)
    assert server.minutes_used() == 30


def test_the_rate_limit_answers_429_with_retry_after_until_the_window_closes() -> None:
    with FakeServer(clock=FakeClock(START), rate_limit=3, rate_window=10) as server:
        api = Api(server)
        assert [api.place().status_code, api.list().status_code, api.get("x").status_code] == [201, 200, 404]
        refused = api.place()
        assert refused.status_code == 429
        assert refused.json() == {"error": "rate_limited"}
        assert refused.headers["Retry-After"] == "10"
        server.advance(7.5)
        assert api.list().headers["Retry-After"] == "3"
        assert server.count_calls() == 1
        server.advance(2.5)
        assert api.place().status_code == 201


def test_the_rate_limit_counts_per_key() -> None:
    with FakeServer(clock=FakeClock(START), rate_limit=1) as server:
        assert Api(server).place().status_code == 201
        assert Api(server).place().status_code == 429
        assert Api(server, key="bys_ak_other").place().status_code == 201


def test_the_minutes_cap_refuses_placements_once_reached() -> None:
    with FakeServer(clock=FakeClock(START), talk_seconds=90, minute_cap=4) as server:
        api = Api(server)
        api.place_ok()
        api.place_ok(to=TEST_NUMBERS["no_answer"])  # unanswered: bills nothing
        assert server.minutes_used() == 2
        api.place_ok()
        assert server.minutes_used() == 4
        refused = api.place(to=TEST_NUMBERS["no_answer"])
        assert refused.status_code == 429
        assert refused.json() == {"error": "over_minute_cap"}
        assert "Retry-After" not in refused.headers
        assert api.list().status_code == 200  # reads are not capped
        assert server.count_calls() == 3
        assert Api(server, key="bys_ak_other").place().status_code == 201


def test_a_refused_placement_bills_nothing(server: FakeServer, api: Api) -> None:
    server.minute_cap = 1
    assert api.place(to="+19001234567").status_code == 400
    assert server.minutes_used() == 0
    api.place_ok()
    assert api.place().json() == {"error": "over_minute_cap"}


def test_limits_can_be_changed_while_running(server: FakeServer, api: Api) -> None:
    server.rate_limit = 1
    api.place_ok()
    assert api.place().status_code == 429
    server.rate_limit = None
    assert api.place().status_code == 201
    with pytest.raises(ValueError, match="rate_limit"):
        server.rate_limit = 0
    with pytest.raises(ValueError, match="minute_cap"):
        server.minute_cap = -1


@given(talk=st.floats(min_value=0, max_value=10_000), answered=st.booleans())
def test_billable_minutes_round_talk_time_up(talk: float, answered: bool) -> None:
    minutes = billable_minutes(talk, answered)
    if not answered:
        assert minutes == 0
    else:
        assert minutes >= 1
        assert minutes * 60 >= talk
        assert minutes == 1 or (minutes - 1) * 60 < talk
