"""Issue 22's batch cases: no placed call is ever silent, a 2xx placement is never sent again,
an older call is never adopted, errors after a placement name its call, options are checked
before any request and the per-call timeout is a deadline; issue 23's duplicate items.

Each test counts what the server received (POSTs, stored calls) against what the batch reported.
"""

from __future__ import annotations

import gc
import json
import logging
import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from byourside import BatchProgress, BatchRun, InvalidRequestError
from byourside._batch import BatchItem
from byourside._journal import Journal, item_key
from byourside.client import Client
from byourside.testing import TEST_NUMBERS, FakeServer
from tests.async_support import CLIENT_KINDS, either_client_on_fake_server
from tests.batch_support import Answer, items, number, posts, reply_bytes, routed_server

WARNINGS = "byourside"


@pytest.fixture(params=CLIENT_KINDS)
def byourside_client(request: pytest.FixtureRequest, byourside_server: FakeServer) -> Iterator[Client]:
    """The plugin's fixture over both clients: every batch test here runs on Client and on
    AsyncClient (its AsyncBatchRun iterated from blocking code)."""
    yield from either_client_on_fake_server(request.param, byourside_server)


def events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()[1:]]


def warned_ids(caplog: pytest.LogCaptureFixture, stored: set[str]) -> set[str]:
    """The stored call ids that some WARNING of the byourside logger names."""
    texts = [r.getMessage() for r in caplog.records if r.name == WARNINGS and r.levelno == logging.WARNING]
    return {call_id for call_id in stored if any(call_id in text for text in texts)}


# -- case 4: stopping early -------------------------------------------------------------------


def test_closing_after_the_first_result_warns_of_every_placed_call_not_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    journal = tmp_path / "run.jsonl"
    caplog.set_level(logging.WARNING, logger=WARNINGS)
    with (
        FakeServer(ring_seconds=0.3, talk_seconds=0.3) as server,
        Client(server.api_key, server.base_url) as client,
    ):
        results = client.place_calls(items(8), concurrency=4, interval=0.02, journal=journal)
        first = next(results)
        results.close()
        stored = {call.call_id for call in server.calls}
        assert server.count_calls() == len(stored)  # nothing placed after close() returned
    unreported = stored - {first.call_id}
    assert len(unreported) >= 1
    assert warned_ids(caplog, stored) == unreported
    journaled = {e["call_id"] for e in events(journal) if e["event"] == "unreported"}
    assert journaled == unreported


def test_leaving_the_loop_with_break_warns_of_every_placed_call_not_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger=WARNINGS)
    with (
        FakeServer(ring_seconds=0.3, talk_seconds=0.3) as server,
        Client(server.api_key, server.base_url) as client,
    ):
        reported = []
        for result in client.place_calls(items(8), concurrency=4, interval=0.02):
            reported.append(result.call_id)
            break
        gc.collect()  # CPython has already finalized the dropped iterator; others do it here
        stored = {call.call_id for call in server.calls}
    assert warned_ids(caplog, stored) == stored - set(reported)
    assert len(stored) > 1


def test_stop_places_nothing_more_and_yields_every_placed_call(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=WARNINGS)
    with (
        FakeServer(ring_seconds=0.2, talk_seconds=0.2) as server,
        Client(server.api_key, server.base_url) as client,
    ):
        results = client.place_calls(items(12), concurrency=4, interval=0.02)
        first = next(results)
        results.stop()
        rest = list(results)
        stored = {call.call_id for call in server.calls}
        assert server.count_calls() == len(stored)
    everything = [first, *rest]
    assert sorted(r.index for r in everything) == list(range(12))
    assert {r.call_id for r in everything if r.call_id is not None} == stored
    for result in everything:
        if result.call_id is not None:
            assert result.status == "completed"  # followed to its end after stop()
        else:
            assert result.status == "not_placed"
            assert result.error is not None
            assert (result.error.code, result.error.may_have_placed) == ("batch_stopped", False)
    assert len(stored) < 12
    assert warned_ids(caplog, stored) == set()


def test_stop_without_waiting_reports_each_placed_call_at_once() -> None:
    with (
        FakeServer(ring_seconds=60, talk_seconds=60) as server,
        Client(server.api_key, server.base_url) as client,
    ):
        stop_at_three: list[BatchRun[Any]] = []

        def on_progress(progress: BatchProgress) -> None:
            # Called from the batch's threads: stop() is safe from any thread.
            if progress.placed >= 3:
                stop_at_three[0].stop(wait=False)

        with client.place_calls(items(6), concurrency=3, interval=0.02, on_progress=on_progress) as results:
            stop_at_three.append(results)
            everything = list(results)
        stored = {call.call_id for call in server.calls}
    placed = [r for r in everything if r.call_id is not None]
    assert len(stored) >= 3
    assert {r.call_id for r in placed} == stored
    assert {r.status for r in placed} == {"placed"}
    assert {r.status for r in everything if r.call_id is None} <= {"not_placed"}
    assert len(everything) == 6


# -- case 5: a 2xx to a placement proves the call exists ------------------------------------------


def garbled_2xx_service(request: bytes) -> bytes:
    if request.startswith(b"POST "):
        return reply_bytes(200, b'{"callId": "call_acc')  # accepted, the body cut short
    if request.startswith(b"GET /v1/agent/calls?"):
        return reply_bytes(200, b'{"calls": []}')  # a lagging list: the call is not there yet
    return reply_bytes(404, b'{"error": "not_found"}')


def test_a_placement_answered_2xx_with_an_unreadable_body_is_never_placed_again(tmp_path: Path) -> None:
    journal = tmp_path / "run.jsonl"
    with routed_server(garbled_2xx_service) as server, Client("bys_ak_test", server.url) as client:
        [first] = client.place_calls(items(1), journal=journal, interval=0.01)
        [again] = client.place_calls(items(1), journal=journal, interval=0.01, retry_unknown=True)
        assert server.posts == 1
    for result in (first, again):
        assert result.status == "placed"
        assert result.call_id is None
        assert result.placed
        assert result.error is not None
        assert (result.error.code, result.error.status, result.error.may_have_placed) == (
            "invalid_response",
            200,
            True,
        )
        assert result.note is not None
        assert "accepted" in result.note
    assert again.resumed
    assert [e["event"] for e in events(journal)] == ["snapshot", "intent", "accepted"]


@pytest.mark.byourside_server(instant=True)
def test_an_accepted_placement_found_with_list_calls_is_adopted(
    byourside_server: FakeServer, byourside_client: Client, tmp_path: Path
) -> None:
    journal = tmp_path / "run.jsonl"
    byourside_server.inject("post", "truncated_body")  # stored, its 2xx reply cut in half
    [result] = byourside_client.place_calls(items(1), journal=journal, retry_unknown=True)
    [stored] = byourside_server.calls
    assert (result.status, result.adopted, result.call_id) == ("completed", True, stored.call_id)
    assert [e["event"] for e in events(journal)] == ["snapshot", "intent", "accepted", "adopted"]
    assert posts(byourside_server) == 1


# -- case 6: adoption takes only a call made after the intent ---------------------------------


@pytest.mark.byourside_server(instant=True)
def test_yesterdays_identical_call_is_never_adopted(
    byourside_server: FakeServer, byourside_client: Client, tmp_path: Path
) -> None:
    [item] = items(1)
    yesterday = byourside_client.place_call(item["to"], item["objective"])
    byourside_server.inject("post", "drop")  # today's placement is lost: nothing stored
    [result] = byourside_client.place_calls([item], journal=tmp_path / "run.jsonl")

    assert byourside_server.count_calls() == 1
    assert (result.status, result.adopted, result.call_id) == ("unknown", False, None)
    assert result.candidates == (yesterday.call_id,)
    assert result.note is not None
    assert yesterday.call_id in result.note


@pytest.mark.byourside_server(instant=True)
def test_a_call_made_after_the_intent_is_adopted_beside_an_older_identical_one(
    byourside_server: FakeServer, byourside_client: Client, tmp_path: Path
) -> None:
    [item] = items(1)
    yesterday = byourside_client.place_call(item["to"], item["objective"])
    byourside_server.inject("post", "drop_after_store")
    [result] = byourside_client.place_calls([item], journal=tmp_path / "run.jsonl")

    assert byourside_server.count_calls() == 2
    today = {call.call_id for call in byourside_server.calls} - {yesterday.call_id}
    assert (result.status, result.adopted) == ("completed", True)
    assert {result.call_id} == today


# -- case 2: errors after a placement name the call ---------------------------------------------


class Appointment(BaseModel):
    confirmed: bool


@pytest.mark.byourside_server(instant=True)
def test_every_error_after_a_placement_carries_its_call_id(
    byourside_server: FakeServer, byourside_client: Client
) -> None:
    byourside_server.inject("get", "html_502")  # the read fails, with retries off
    [read_failed] = byourside_client.place_calls(items(1), max_retries=0)
    # Nobody answered: the call ended, its values cannot fill the model.
    no_answer = [{"to": TEST_NUMBERS["no_answer"], "objective": "Confirm"}]
    [ended] = byourside_client.place_calls(no_answer, fields=Appointment)

    for result in (read_failed, ended):
        assert result.call_id is not None
        assert result.error is not None
        assert result.error.call_id == result.call_id
        assert result.error.may_have_placed
    assert read_failed.status == "placed"
    assert ended.status == "no_answer"


# -- case 7: options checked before any request; the timeout is a deadline ----------------------


@pytest.mark.parametrize(
    ("options", "code"),
    [
        ({"concurrency": 0}, "invalid_concurrency"),
        ({"concurrency": -1}, "invalid_concurrency"),
        ({"concurrency": 1.5}, "invalid_concurrency"),
        ({"concurrency": True}, "invalid_concurrency"),
        ({"concurrency": math.nan}, "invalid_concurrency"),
        ({"timeout": math.nan}, "invalid_timeout"),
        ({"timeout": math.inf}, "invalid_timeout"),
        ({"timeout": -1}, "invalid_timeout"),
        ({"timeout": 0}, "invalid_timeout"),
        ({"timeout": "1"}, "invalid_timeout"),
        ({"interval": 0}, "invalid_interval"),
        ({"interval": -0.5}, "invalid_interval"),
        ({"interval": math.nan}, "invalid_interval"),
        ({"interval": math.inf}, "invalid_interval"),
        ({"interval": "1"}, "invalid_interval"),
    ],
)
def test_every_numeric_option_is_checked_before_any_request(options: dict[str, Any], code: str) -> None:
    with FakeServer(instant=True) as server, Client(server.api_key, server.base_url) as client:
        with pytest.raises(InvalidRequestError) as raised:
            client.place_calls(items(1), **options)
        assert raised.value.code == code
        assert raised.value.status == 0
        assert next(iter(options)) in raised.value.message
        assert server.requests == []


@pytest.mark.byourside_server(instant=True)
def test_the_per_call_timeout_bounds_rate_limit_pauses(
    byourside_server: FakeServer, byourside_client: Client
) -> None:
    # The clock is the server's fake one: a 30 s Retry-After on a poll must not stretch timeout=5.
    byourside_server.inject("get", "rate_limited", count=3, retry_after=30)
    started = byourside_client._clock()
    [result] = byourside_client.place_calls(items(1), timeout=5, interval=1)
    assert result.status == "placed"
    assert result.error is not None
    assert result.error.code == "timeout"
    assert result.error.call_id == result.call_id
    assert byourside_client._clock() - started <= 5


def silent_reads(request: bytes) -> bytes | Answer:
    if request.startswith(b"POST "):
        return reply_bytes(200, b'{"callId": "call_1", "status": "queued"}')
    if request.startswith(b"GET /v1/agent/calls?"):
        return reply_bytes(200, b'{"calls": []}')

    def never_answer(conn: Any) -> None:
        conn.recv(1)  # holds the connection until the client gives up

    return never_answer


def test_the_per_call_timeout_bounds_a_read_that_never_answers() -> None:
    with routed_server(silent_reads) as server, Client("bys_ak_test", server.url, timeout=(2, 8)) as client:
        started = time.monotonic()
        [result] = client.place_calls(items(1), timeout=1, interval=0.05)
        elapsed = time.monotonic() - started
    assert result.status == "placed"
    assert result.error is not None
    assert (result.error.code, result.error.call_id) == ("timeout", "call_1")
    assert elapsed < 6  # a 1 s deadline; the read timeout alone is 8 s, retried twice


# -- issue 23: duplicate items ----------------------------------------------------------------


def test_two_items_for_the_same_person_and_objective_are_refused_before_any_call() -> None:
    batch = [*items(3), {"to": number(1), "objective": "Confirm the appointment #1"}]
    with FakeServer(instant=True) as server, Client(server.api_key, server.base_url) as client:
        with pytest.raises(InvalidRequestError) as raised:
            client.place_calls(batch)
        assert raised.value.code == "duplicate_batch_item"
        assert "1" in raised.value.message
        assert "3" in raised.value.message
        assert "allow_duplicates" in raised.value.message
        assert server.requests == []

        other_context = [*items(1), {**items(1)[0], "context": "Second reminder"}]
        assert [r.status for r in client.place_calls(other_context, interval=0.01)] == ["completed"] * 2
        allowed = client.place_calls(batch, allow_duplicates=True, interval=0.01)
        assert sorted(r.status for r in allowed) == ["completed"] * 4
        assert posts(server) == 6


@pytest.mark.byourside_server(instant=True)
def test_without_a_snapshot_no_call_is_adopted_and_the_candidates_are_listed(
    byourside_server: FakeServer, byourside_client: Client, tmp_path: Path
) -> None:
    # A journal from before snapshots: an intent, and one matching call that may or may not be
    # older than it. Nothing proves it is this item's: it is listed, never adopted, never re-placed.
    journal = tmp_path / "run.jsonl"
    [item] = items(1)
    book = Journal.open(journal, [item_key(BatchItem.model_validate(item).placement())])
    book.intent(0)
    book.close()
    maybe = byourside_client.place_call(item["to"], item["objective"])

    [result] = byourside_client.place_calls([item], journal=journal, retry_unknown=True)
    assert (result.status, result.adopted, result.candidates) == ("unknown", False, (maybe.call_id,))
    assert result.note is not None
    assert "no snapshot" in result.note
    assert byourside_server.count_calls() == 1


def test_a_snapshot_that_is_not_a_list_of_ids_is_refused(tmp_path: Path) -> None:
    journal = tmp_path / "run.jsonl"
    keys = [item_key(BatchItem.model_validate(item).placement()) for item in items(1)]
    Journal.open(journal, keys).close()
    with journal.open("ab") as file:
        file.write(b'{"event": "snapshot", "call_ids": [1, 2]}\n')
    with pytest.raises(InvalidRequestError, match="line 2") as raised:
        Journal.open(journal, keys)
    assert raised.value.code == "journal_mismatch"


def trickled_reads(request: bytes) -> bytes | Answer:
    if request.startswith(b"POST "):
        return reply_bytes(200, b'{"callId": "call_1", "status": "queued"}')
    if request.startswith(b"GET /v1/agent/calls?"):
        return reply_bytes(200, b'{"calls": []}')
    body = b'{"id": "call_1", "status": "in_progress", "summary": null}'

    def trickle(conn: Any) -> None:
        conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode())
        for byte in body:  # one byte every 0.2 s: each read is quick, the reply takes 11 s
            conn.sendall(bytes([byte]))
            time.sleep(0.2)

    return trickle


def test_the_per_call_timeout_bounds_a_trickled_reply() -> None:
    with routed_server(trickled_reads) as server, Client("bys_ak_test", server.url, timeout=(2, 8)) as client:
        started = time.monotonic()
        [result] = client.place_calls(items(1), timeout=1, interval=0.05)
        elapsed = time.monotonic() - started
    assert result.error is not None
    assert (result.status, result.error.code) == ("placed", "timeout")
    assert elapsed < 6  # a 1 s deadline; the trickle alone takes 11 s
