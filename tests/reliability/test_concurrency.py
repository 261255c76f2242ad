"""One `Client` shared by 16 threads, and by the two processes of a `fork`.

The threads make over 2,000 mixed requests (place, get, list, wait) on one client and one
FakeServer: every request succeeds, every reply is the one asked for, and every placement stores
exactly one call. After a fork, parent and child use the same client object at the same time:
each process gets its own connections, so no reply goes to the wrong process.
"""

from __future__ import annotations

import json
import os
import random
import signal
import threading
import time
import warnings
from collections import Counter
from collections.abc import Iterator

import pytest

from byourside import Call, Client
from byourside.testing import FakeServer
from tests.reliability.support import API_KEY, assert_secret_free

THREADS = 16
OPERATIONS_PER_THREAD = 130
OBJECTIVE = "Confirm the appointment"


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer(instant=True, api_key=API_KEY) as fake:
        yield fake


def number(group: int, index: int) -> str:
    """A distinct US number per (group, index) that the FakeServer completes at once."""
    return f"+1{300 + group}{index:03d}0123"


class Worker:
    """One thread's share: a seeded mix of operations, every reply checked against the request."""

    def __init__(self, client: Client, index: int) -> None:
        self.client = client
        self.index = index
        self.placed: dict[str, str] = {}  # call id -> number
        self.done: Counter[str] = Counter()
        self.errors: list[str] = []

    def run(self, start: threading.Barrier) -> None:
        rng = random.Random(self.index)
        start.wait()
        for step in range(OPERATIONS_PER_THREAD):
            kind = "place" if not self.placed else rng.choice(["place", "get", "get", "list", "wait"])
            try:
                self.operate(kind, step, rng)
            except Exception as error:  # counted and reported, never lost
                assert_secret_free(error)
                self.errors.append(f"{kind}: {error!r}")
            else:
                self.done[kind] += 1

    def operate(self, kind: str, step: int, rng: random.Random) -> None:
        client = self.client
        if kind == "place":
            to = number(self.index, step)
            placed = client.place_call(to, OBJECTIVE)
            assert placed.status == "queued"
            self.placed[placed.call_id] = to
            return
        call_id = rng.choice(sorted(self.placed))
        if kind == "get":
            call = client.get_call(call_id)
        elif kind == "wait":
            call = client.wait_for_call(call_id, timeout=30, interval=0.01)
            assert call.status == "completed"
        else:
            calls = client.list_calls(limit=rng.randint(1, 20))
            assert calls
            assert all(isinstance(listed, Call) for listed in calls)
            return
        # The reply is the one this thread asked for, not another thread's.
        assert (call.call_id, call.to) == (call_id, self.placed[call_id])


def test_sixteen_threads_share_one_client(server: FakeServer, caplog: pytest.LogCaptureFixture) -> None:
    with Client(API_KEY, server.base_url, timeout=(5.0, 30.0)) as client:
        workers = [Worker(client, index) for index in range(THREADS)]
        start = threading.Barrier(THREADS)
        threads = [threading.Thread(target=worker.run, args=(start,)) for worker in workers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    done: Counter[str] = sum((worker.done for worker in workers), Counter())
    errors = [error for worker in workers for error in worker.errors]
    placed = {to for worker in workers for to in worker.placed.values()}
    stored = Counter(call.to for call in server.calls)
    duplicates = sum(count - 1 for count in stored.values() if count > 1)
    posts = sum(1 for request in server.requests if request.method == "POST")
    discarded = sum("Connection pool is full" in record.getMessage() for record in caplog.records)
    print(
        f"\n{THREADS} threads, one client: {sum(done.values())} requests ({dict(sorted(done.items()))}), "
        f"{len(errors)} errors, {duplicates} duplicates, {posts} POSTs for {len(placed)} placements, "
        f"{discarded} connections discarded by a full pool"
    )
    assert errors == []
    assert sum(done.values()) == THREADS * OPERATIONS_PER_THREAD >= 2000
    assert min(done.values()) > 100  # every kind of request is well represented
    assert duplicates == 0
    assert set(stored) == placed
    assert all(count == 1 for count in stored.values())
    assert posts == len(placed) == done["place"]
    # The client's pool keeps a connection for each thread: none is opened only to be thrown away.
    assert discarded == 0


# -- fork ------------------------------------------------------------------------------------------


def _work_in(client: Client, group: int, rounds: int) -> dict[str, object]:
    """Place, read back and wait for `rounds` calls; what went wrong, as JSON-friendly data."""
    errors: list[str] = []
    placed: list[str] = []
    for index in range(rounds):
        to = number(group, index)
        try:
            call_id = client.place_call(to, OBJECTIVE).call_id
            placed.append(to)
            for call in (client.get_call(call_id), client.wait_for_call(call_id, timeout=30, interval=0.01)):
                if (call.call_id, call.to) != (call_id, to):
                    errors.append(f"asked for {call_id} ({to}), got {call.call_id} ({call.to})")
        except Exception as error:
            errors.append(repr(error))
    return {"errors": errors, "placed": placed}


def _wait_for_child(pid: int, timeout: float) -> int:
    """The child's exit status; a child still running after `timeout` seconds is killed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    raise AssertionError(f"the child was still running after {timeout} s (a request hung?)")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX only")
def test_a_client_used_before_a_fork_serves_parent_and_child_at_once(server: FakeServer) -> None:
    rounds = 60
    with Client(API_KEY, server.base_url, timeout=(5.0, 10.0)) as client:
        # The parent's pool now holds an open keep-alive connection, inherited by the child.
        warm = client.place_call(number(90, 999), OBJECTIVE)
        inherited = client._transport._session
        start_reading, start_writing = os.pipe()
        report_reading, report_writing = os.pipe()
        with warnings.catch_warnings():
            # Python 3.12+ warns that forking a process with threads (the FakeServer's) may
            # deadlock the child; the child here touches only its own client.
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:  # the child: never returns into pytest
            status = 1
            try:
                os.close(report_reading)
                os.read(start_reading, 1)  # start together with the parent
                report = _work_in(client, 91, rounds)
                report["fresh_session"] = client._transport._session is not inherited
                os.write(report_writing, json.dumps(report).encode())
                status = 0
            finally:
                os._exit(status)
        os.close(report_writing)
        os.write(start_writing, b"x")
        parent = _work_in(client, 92, rounds)
        assert client.get_call(warm.call_id).call_id == warm.call_id
        exit_code = _wait_for_child(pid, timeout=60)
        with os.fdopen(report_reading, "rb") as reader:
            child = json.loads(reader.read() or b"{}")
        os.close(start_reading)
        os.close(start_writing)
        assert client._transport._session is inherited  # the parent keeps its own

    assert exit_code == 0
    assert child["errors"] == []
    assert parent["errors"] == []
    assert child["fresh_session"] is True
    for group in (91, 92):
        for index in range(rounds):
            assert server.count_calls(number(group, index)) == 1
