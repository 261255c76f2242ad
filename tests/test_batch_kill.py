"""A batch killed mid-run (SIGKILL: no cleanup, no flush) and run again with the same journal.

The batch runs in a child process against a FakeServer in this one; the kill comes once the
journal shows some placements. The server's stored calls per number are the proof: the re-run
dials each remaining row exactly once and no row twice.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from byourside import BatchResult
from byourside.testing import FakeServer
from tests.async_support import CLIENT_KINDS, make_either_client
from tests.batch_support import items, stored_per_number

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")


def journal_events(path: Path) -> list[dict[str, object]]:
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").split("\n")[1:-1]  # a torn last line is left out
    records = [json.loads(line) for line in lines]
    return [record for record in records if record["event"] != "snapshot"]  # the run's, not an item's


def placed_indexes(path: Path) -> set[int]:
    return {int(str(e["index"])) for e in journal_events(path) if e["event"] == "placed"}


def in_flight_indexes(path: Path) -> set[int]:
    """Items whose intent is journaled and whose outcome is not: their request is on the way."""
    outcome: dict[int, str] = {}
    for event in journal_events(path):
        outcome[int(str(event["index"]))] = str(event["event"])
    return {index for index, last in outcome.items() if last == "intent"}


def wait_for(condition: Callable[[], bool], child: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert child.poll() is None, f"the batch ended before {what}"
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.005)


def run_and_kill(
    server: FakeServer, journal: Path, count: int, kill_after: int, kind: str = "Client"
) -> None:
    """Run the batch in a child process; once `kill_after` calls are placed, hold the reply to
    the next placement (the call is stored first) and SIGKILL the child while it waits for it."""
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.batch_driver", server.base_url, str(journal), str(count), kind],
        cwd=ROOT,
        env={**os.environ, "BYOURSIDE_API_KEY": server.api_key},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: len(placed_indexes(journal)) >= kill_after, child, f"{kill_after} placements")
        server.inject("post", "slow", delay=10.0)
        wait_for(
            lambda: server.pending_faults("post") == 0 and bool(in_flight_indexes(journal)),
            child,
            "the held placement is stored",
        )
        child.send_signal(signal.SIGKILL)
        assert child.wait(10) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)


@pytest.mark.parametrize("kind", CLIENT_KINDS)
def test_a_killed_batch_rerun_with_its_journal_dials_each_remaining_row_exactly_once(
    tmp_path: Path, kind: str
) -> None:
    """The batch killed is run by `kind` in the child; the re-runs by the same kind of client."""
    journal = tmp_path / "run.jsonl"
    batch = items(24)
    with FakeServer(ring_seconds=0.3, talk_seconds=0.3) as server:
        run_and_kill(server, journal, len(batch), kill_after=6, kind=kind)
        placed_before = placed_indexes(journal)
        killed_mid_request = in_flight_indexes(journal)
        assert 6 <= len(placed_before) < len(batch)
        assert killed_mid_request

        server.ring_seconds = server.talk_seconds = 0.0  # from now on calls end as soon as placed
        with make_either_client(kind, server.api_key, server.base_url) as client:
            rerun: dict[int, BatchResult] = {
                r.index: r for r in client.place_calls(batch, journal=journal, concurrency=4, interval=0.02)
            }
            stored = stored_per_number(server)

            assert sorted(rerun) == list(range(len(batch)))
            assert {i for i, r in rerun.items() if r.resumed} == placed_before
            # The held placement was stored before the kill: found with list_calls, adopted.
            assert any(rerun[i].adopted for i in killed_mid_request)
            for index, item in enumerate(batch):
                result = rerun[index]
                if result.status == "unknown":
                    # Killed mid-request and the request never arrived: reported, never re-sent.
                    assert stored[item["to"]] == 0
                    assert result.error is not None
                    assert result.error.code == "placement_unknown"
                else:
                    assert result.status == "completed"
                    assert stored[item["to"]] == 1, (index, result)
            placed_by_rerun = [i for i, r in rerun.items() if r.placed and not (r.resumed or r.adopted)]
            assert not set(placed_by_rerun) & placed_before

            # Asked to, a last run places what stayed unknown; everyone was then dialled once.
            final = list(client.place_calls(batch, journal=journal, retry_unknown=True, interval=0.02))
        assert {r.status for r in final} == {"completed"}
        assert stored_per_number(server) == {item["to"]: 1 for item in batch}
