"""The batch journal: resuming, unknown placements never sent again, journals of other items refused.

Each test counts the calls the FakeServer stored per number: the promise is that no item is ever
placed twice, whatever the journal says and however the previous run ended.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from byourside import BatchResult, InvalidRequestError
from byourside._batch import BatchItem
from byourside._journal import Journal, item_key
from byourside.client import Client
from byourside.testing import FakeServer
from tests.async_support import CLIENT_KINDS, either_client_on_fake_server
from tests.batch_support import items, number, posts, stored_per_number


@pytest.fixture(params=CLIENT_KINDS)
def byourside_client(request: pytest.FixtureRequest, byourside_server: FakeServer) -> Iterator[Client]:
    """The plugin's fixture over both clients: every batch test here runs on Client and on
    AsyncClient (its AsyncBatchRun iterated from blocking code)."""
    yield from either_client_on_fake_server(request.param, byourside_server)


def records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()[1:]]


def events(path: Path) -> list[dict[str, Any]]:
    """The items' events: every record but the runs' snapshots of recent calls."""
    return [record for record in records(path) if record["event"] != "snapshot"]


def keys_of(batch: list[dict[str, Any]]) -> list[str]:
    return [item_key(BatchItem.model_validate(item).placement()) for item in batch]


def by_index(results: list[BatchResult]) -> dict[int, BatchResult]:
    return {result.index: result for result in results}


@pytest.mark.byourside_server(instant=True)
def test_intent_and_call_id_are_journaled_for_each_placement(
    byourside_client: Client, tmp_path: Path
) -> None:
    journal = tmp_path / "run.jsonl"
    results = by_index(list(byourside_client.place_calls(items(3), journal=journal, concurrency=1)))

    header = json.loads(journal.read_text(encoding="utf-8").splitlines()[0])
    assert (header["journal"], header["version"], header["items"]) == ("byourside.batch", 1, 3)
    snapshot = records(journal)[0]  # the calls that existed before the run: never adopted
    assert (snapshot["event"], snapshot["call_ids"]) == ("snapshot", [])
    assert [(e["event"], e["index"]) for e in events(journal)] == [
        ("intent", 0),
        ("placed", 0),
        ("intent", 1),
        ("placed", 1),
        ("intent", 2),
        ("placed", 2),
    ]
    placed = [e for e in events(journal) if e["event"] == "placed"]
    assert [e["call_id"] for e in placed] == [results[i].call_id for i in range(3)]
    assert [e["key"] for e in placed] == keys_of(items(3))


def test_the_intent_is_on_disk_before_the_placement_is_answered(tmp_path: Path) -> None:
    journal = tmp_path / "run.jsonl"
    with FakeServer(instant=True) as server, Client(server.api_key, server.base_url) as client:
        server.inject("post", "slow", delay=1.0)  # stored at once, answered a second later
        done: list[BatchResult] = []
        worker = threading.Thread(target=lambda: done.extend(client.place_calls(items(1), journal=journal)))
        worker.start()
        deadline = time.monotonic() + 5
        while server.count_calls() == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        during = [e["event"] for e in events(journal)]
        worker.join(10)
    assert during == ["intent"]
    assert [e["event"] for e in events(journal)] == ["intent", "placed"]
    assert done[0].status == "completed"


@pytest.mark.byourside_server(instant=True)
def test_a_rerun_places_nothing_again_and_reads_every_call_back(
    byourside_server: FakeServer, byourside_client: Client, tmp_path: Path
) -> None:
    journal = tmp_path / "run.jsonl"
    batch = items(6)
    first = by_index(list(byourside_client.place_calls(batch, journal=journal)))
    again = by_index(list(byourside_client.place_calls(batch, journal=journal)))

    assert posts(byourside_server) == 6
    assert all(again[i].resumed and again[i].call_id == first[i].call_id for i in range(6))
    assert [again[i].status for i in range(6)] == ["completed"] * 6


@pytest.mark.byourside_server(instant=True, minute_cap=2)
def test_after_the_minutes_cap_a_rerun_places_only_what_was_not_placed(
    byourside_server: FakeServer, byourside_client: Client, tmp_path: Path
) -> None:
    journal = tmp_path / "run.jsonl"
    batch = items(5)
    first = list(byourside_client.place_calls(batch, journal=journal, concurrency=1, ordered=True))
    assert [r.status for r in first] == ["completed", "completed"] + ["not_placed"] * 3

    byourside_server.minute_cap = None  # the cap resets
    again = list(byourside_client.place_calls(batch, journal=journal, ordered=True))
    assert [(r.status, r.resumed) for r in again] == [("completed", True)] * 2 + [("completed", False)] * 3
    assert stored_per_number(byourside_server) == {item["to"]: 1 for item in batch}


@pytest.mark.byourside_server(instant=True)
def test_a_placement_stored_before_the_connection_dropped_is_adopted_not_repeated(
    byourside_server: FakeServer, byourside_client: Client, tmp_path: Path
) -> None:
    journal = tmp_path / "run.jsonl"
    byourside_server.inject("post", "drop_after_store")
    [result] = byourside_client.place_calls(items(1), journal=journal)

    assert result.status == "completed"
    assert result.adopted
    assert result.error is None
    assert result.note is not None
    assert "adopted" in result.note
    assert byourside_server.count_calls() == 1
    assert posts(byourside_server) == 1
    assert [e["event"] for e in events(journal)] == ["intent", "unknown", "adopted"]
    assert events(journal)[-1]["call_id"] == result.call_id

    [again] = byourside_client.place_calls(items(1), journal=journal)
    assert (again.status, again.resumed, again.adopted) == ("completed", True, True)
    assert posts(byourside_server) == 1


@pytest.mark.byourside_server(instant=True)
def test_an_unknown_placement_is_never_sent_again_unless_asked(
    byourside_server: FakeServer, byourside_client: Client, tmp_path: Path
) -> None:
    journal = tmp_path / "run.jsonl"
    batch = items(3)
    byourside_server.inject("post", "drop")  # the first placement is lost on the way: nothing stored
    first = by_index(list(byourside_client.place_calls(batch, journal=journal, concurrency=1)))

    assert first[0].status == "unknown"
    assert first[0].error is not None
    assert first[0].error.may_have_placed
    assert first[0].error.code == "network_error"
    assert first[0].note is not None
    assert "retry_unknown" in first[0].note
    assert [first[i].status for i in (1, 2)] == ["completed", "completed"]

    second = by_index(list(byourside_client.place_calls(batch, journal=journal)))
    assert second[0].status == "unknown"
    assert second[0].error is not None
    assert second[0].error.code == "placement_unknown"
    assert "network_error" in second[0].error.message
    assert posts(byourside_server) == 3  # the lost one and the two placed: nothing sent again

    third = by_index(list(byourside_client.place_calls(batch, journal=journal, retry_unknown=True)))
    assert third[0].status == "completed"
    assert not third[0].resumed
    assert stored_per_number(byourside_server) == {item["to"]: 1 for item in batch}

    fourth = by_index(list(byourside_client.place_calls(batch, journal=journal, retry_unknown=True)))
    assert all(fourth[i].resumed for i in range(3))
    assert posts(byourside_server) == 4


@pytest.mark.byourside_server(instant=True)
def test_a_run_that_died_mid_request_leaves_an_intent_resolved_from_list_calls(
    byourside_server: FakeServer, byourside_client: Client, tmp_path: Path
) -> None:
    journal = tmp_path / "run.jsonl"
    batch = items(2)
    # What a process killed between its intent and the reply leaves: the snapshot of the calls
    # before it, the intents, one call stored.
    book = Journal.open(journal, keys_of(batch))
    book.snapshot([])
    book.intent(0)
    book.intent(1)
    book.close()
    reached = byourside_client.place_call(batch[0]["to"], batch[0]["objective"])

    results = by_index(list(byourside_client.place_calls(batch, journal=journal, retry_unknown=True)))

    assert (results[0].status, results[0].adopted, results[0].call_id) == ("completed", True, reached.call_id)
    # Item 1's request never arrived: list_calls shows nothing, and retry_unknown places it once.
    assert (results[1].status, results[1].adopted) == ("completed", False)
    assert stored_per_number(byourside_server) == {item["to"]: 1 for item in batch}


@pytest.mark.byourside_server(instant=True)
def test_an_intent_with_no_call_found_is_reported_unknown_and_not_placed(
    byourside_server: FakeServer, byourside_client: Client, tmp_path: Path
) -> None:
    journal = tmp_path / "run.jsonl"
    book = Journal.open(journal, keys_of(items(1)))
    book.intent(0)
    book.close()
    [result] = byourside_client.place_calls(items(1), journal=journal)
    assert result.status == "unknown"
    assert result.error is not None
    assert (result.error.code, result.error.may_have_placed) == ("placement_unknown", True)
    assert "stopped before reading the reply" in result.error.message
    assert byourside_server.count_calls() == 0


@pytest.mark.byourside_server(instant=True)
def test_a_call_claimed_by_another_item_is_never_adopted(
    byourside_server: FakeServer, byourside_client: Client, tmp_path: Path
) -> None:
    twins = [{"to": number(0), "objective": "Confirm"}] * 2
    byourside_server.inject("post", "slow", delay=0.0)  # the first placement goes through
    byourside_server.inject("post", "drop_after_store")  # the second is stored, its reply lost
    run = byourside_client.place_calls(
        twins, journal=tmp_path / "run.jsonl", concurrency=1, allow_duplicates=True
    )
    results = by_index(list(run))
    assert results[1].adopted
    assert results[0].call_id != results[1].call_id
    assert byourside_server.count_calls() == 2


@pytest.mark.byourside_server(instant=True)
def test_twin_items_both_unsettled_adopt_nothing(
    byourside_server: FakeServer, byourside_client: Client, tmp_path: Path
) -> None:
    # Two rows for the same person and objective, both killed mid-request, one call stored:
    # which row it belongs to cannot be told, so neither takes it, and neither is placed again.
    journal = tmp_path / "run.jsonl"
    twins = [{"to": number(0), "objective": "Confirm"}] * 2
    book = Journal.open(journal, keys_of(twins))
    book.snapshot([])
    book.intent(0)
    book.intent(1)
    book.close()
    byourside_client.place_call(number(0), "Confirm")

    results = list(
        byourside_client.place_calls(twins, journal=journal, retry_unknown=True, allow_duplicates=True)
    )
    assert [(r.status, r.adopted) for r in results] == [("unknown", False)] * 2
    assert all(r.note is not None and "unsettled" in r.note for r in results)
    assert byourside_server.count_calls() == 1


@pytest.mark.byourside_server(instant=True)
def test_several_matching_calls_leave_the_item_unknown_even_with_retry_unknown(
    byourside_server: FakeServer, byourside_client: Client, tmp_path: Path
) -> None:
    journal = tmp_path / "run.jsonl"
    book = Journal.open(journal, keys_of(items(1)))
    book.intent(0)
    book.close()
    for _ in range(2):
        byourside_client.place_call(items(1)[0]["to"], items(1)[0]["objective"])

    [result] = byourside_client.place_calls(items(1), journal=journal, retry_unknown=True)
    assert result.status == "unknown"
    assert result.note is not None
    assert "2 call(s)" in result.note
    assert byourside_server.count_calls() == 2


@pytest.mark.byourside_server(instant=True)
def test_a_journal_of_other_items_is_refused_before_anything_is_sent(
    byourside_server: FakeServer, byourside_client: Client, tmp_path: Path
) -> None:
    journal = tmp_path / "run.jsonl"
    list(byourside_client.place_calls(items(3), journal=journal))
    sent = len(byourside_server.requests)
    changed = items(3)
    changed[1]["objective"] = "Something else"
    for other in (items(4), items(2), changed):
        with pytest.raises(InvalidRequestError) as raised:
            byourside_client.place_calls(other, journal=journal)
        assert raised.value.code == "journal_mismatch"
        assert str(journal) in raised.value.message
    assert len(byourside_server.requests) == sent


@pytest.mark.parametrize(
    "content",
    [
        b"to,objective\n+14155550123,Hi\n",
        b'{"journal": "something else", "version": 1}\n',
        b"not json at all\n",
    ],
)
def test_a_file_that_is_not_a_journal_is_refused(tmp_path: Path, content: bytes) -> None:
    journal = tmp_path / "run.jsonl"
    journal.write_bytes(content)
    with pytest.raises(InvalidRequestError) as raised:
        Journal.open(journal, keys_of(items(1)))
    assert raised.value.code == "journal_mismatch"
    assert journal.read_bytes() == content


def test_a_corrupt_record_or_another_items_record_is_refused(tmp_path: Path) -> None:
    journal = tmp_path / "run.jsonl"
    Journal.open(journal, keys_of(items(2))).close()
    header = journal.read_bytes()
    for record in (b"garbage\n", b'{"event": "placed", "index": 7, "key": "x", "call_id": "c"}\n'):
        journal.write_bytes(header + record + b'{"event": "intent"}\n')
        with pytest.raises(InvalidRequestError, match="line 2"):
            Journal.open(journal, keys_of(items(2)))


def test_a_journal_in_use_by_another_run_is_refused(tmp_path: Path) -> None:
    journal = tmp_path / "run.jsonl"
    with FakeServer(instant=True) as server, Client(server.api_key, server.base_url) as client:
        holder = Journal.open(journal, keys_of(items(2)))
        try:
            with pytest.raises(InvalidRequestError) as raised:
                client.place_calls(items(2), journal=journal)
            assert raised.value.code == "journal_in_use"
        finally:
            holder.close()
        assert server.requests == []
        assert [r.status for r in client.place_calls(items(2), journal=journal, interval=0.01)] == [
            "completed"
        ] * 2


@pytest.mark.byourside_server(instant=True)
def test_a_line_torn_by_a_crash_is_dropped_and_the_journal_goes_on(
    byourside_server: FakeServer, byourside_client: Client, tmp_path: Path
) -> None:
    journal = tmp_path / "run.jsonl"
    batch = items(2)
    # A run that placed item 0, then died while writing item 1's intent (so never sent item 1).
    placed = byourside_client.place_call(batch[0]["to"], batch[0]["objective"])
    book = Journal.open(journal, keys_of(batch))
    book.intent(0)
    book.placed(0, placed.call_id)
    book.close()
    with journal.open("ab") as file:
        file.write(b'{"event":"intent","index":1,"ke')

    results = list(byourside_client.place_calls(batch, journal=journal, ordered=True))

    assert [(r.status, r.resumed) for r in results] == [("completed", True), ("completed", False)]
    assert results[0].call_id == placed.call_id
    assert stored_per_number(byourside_server) == {item["to"]: 1 for item in batch}
    assert [e["event"] for e in events(journal)] == ["intent", "placed", "intent", "placed"]


def test_stopping_early_and_running_again_completes_every_item_once(tmp_path: Path) -> None:
    journal = tmp_path / "run.jsonl"
    batch = items(12)
    with (
        FakeServer(ring_seconds=0.1, talk_seconds=0.1) as server,
        Client(server.api_key, server.base_url) as client,
    ):
        results = client.place_calls(batch, journal=journal, concurrency=3, interval=0.02)
        next(results)
        results.close()
        assert server.count_calls() < 12
        rest = list(client.place_calls(batch, journal=journal, concurrency=3, interval=0.02))
        assert {r.status for r in rest} == {"completed"}
        assert any(r.resumed for r in rest)
        assert stored_per_number(server) == {item["to"]: 1 for item in batch}
