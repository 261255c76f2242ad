"""The threads test of `test_concurrency`, as concurrent tasks: one `AsyncClient` shared by 64 tasks.

Over 2,500 mixed requests (place, get, list, wait) on one client and one FakeServer: every request
succeeds, every reply is the one its task asked for, every placement stores exactly one call, and
never more threads than the client's pool are used.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections import Counter
from collections.abc import Iterator

import pytest

from byourside import AsyncClient, Call
from byourside.testing import FakeServer
from tests.reliability.support import API_KEY, assert_secret_free
from tests.reliability.test_concurrency import OBJECTIVE, number

TASKS = 64
OPERATIONS_PER_TASK = 40


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer(instant=True, api_key=API_KEY) as fake:
        yield fake


class TaskWorker:
    """One task's share: a seeded mix of operations, every reply checked against the request."""

    def __init__(self, client: AsyncClient, index: int) -> None:
        self.client = client
        self.index = index
        self.placed: dict[str, str] = {}  # call id -> number
        self.done: Counter[str] = Counter()
        self.errors: list[str] = []

    async def run(self, start: asyncio.Event) -> None:
        rng = random.Random(self.index)
        await start.wait()
        for step in range(OPERATIONS_PER_TASK):
            kind = "place" if not self.placed else rng.choice(["place", "get", "get", "list", "wait"])
            try:
                await self.operate(kind, step, rng)
            except Exception as error:  # counted and reported, never lost
                assert_secret_free(error)
                self.errors.append(f"{kind}: {error!r}")
            else:
                self.done[kind] += 1

    async def operate(self, kind: str, step: int, rng: random.Random) -> None:
        client = self.client
        if kind == "place":
            to = number(self.index, step)
            placed = await client.place_call(to, OBJECTIVE)
            self.placed[placed.call_id] = to
            return
        call_id = rng.choice(sorted(self.placed))
        if kind == "get":
            call = await client.get_call(call_id)
        elif kind == "wait":
            call = await client.wait_for_call(call_id, timeout=30, interval=0.01)
            assert call.status == "completed"
        else:
            calls = await client.list_calls(limit=rng.randint(1, 20))
            assert calls
            assert all(isinstance(listed, Call) for listed in calls)
            return
        assert (call.call_id, call.to) == (call_id, self.placed[call_id])


async def run_workers(base_url: str, max_workers: int) -> tuple[list[TaskWorker], int]:
    peak = 0
    async with AsyncClient(API_KEY, base_url, timeout=(5.0, 30.0), max_workers=max_workers) as client:
        workers = [TaskWorker(client, index) for index in range(TASKS)]
        start = asyncio.Event()
        tasks = [asyncio.create_task(worker.run(start)) for worker in workers]
        start.set()
        while not all(task.done() for task in tasks):
            pool = sum(1 for t in threading.enumerate() if t.name.startswith("byourside-async"))
            peak = max(peak, pool)
            await asyncio.sleep(0.005)
        await asyncio.gather(*tasks)
    return workers, peak


def test_sixty_four_tasks_share_one_async_client(server: FakeServer) -> None:
    workers, peak_threads = asyncio.run(run_workers(server.base_url, max_workers=8))

    done: Counter[str] = sum((worker.done for worker in workers), Counter())
    errors = [error for worker in workers for error in worker.errors]
    placed = {to for worker in workers for to in worker.placed.values()}
    stored = Counter(call.to for call in server.calls)
    duplicates = sum(count - 1 for count in stored.values() if count > 1)
    posts = sum(1 for request in server.requests if request.method == "POST")
    print(
        f"\n{TASKS} tasks, one AsyncClient: {sum(done.values())} requests ({dict(sorted(done.items()))}), "
        f"{len(errors)} errors, {duplicates} duplicates, {posts} POSTs for {len(placed)} placements, "
        f"at most {peak_threads} threads"
    )
    assert errors == []
    assert sum(done.values()) == TASKS * OPERATIONS_PER_TASK >= 2500
    assert min(done.values()) > 100
    assert duplicates == 0
    assert set(stored) == placed
    assert all(count == 1 for count in stored.values())
    assert posts == len(placed) == done["place"]
    assert 1 <= peak_threads <= 8
