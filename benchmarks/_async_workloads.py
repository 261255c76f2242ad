"""The AsyncClient's benchmark jobs: its round trip beside the sync client's, and many concurrent
waits on a FakeServer in another process with the event loop's lag measured by a ticker."""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from byourside import AsyncClient, Client
from byourside._async_transport import DEFAULT_WORKERS

API_KEY = "bys_ak_benchmark"

# A FakeServer on real time in a process of its own, so its work does not share this event loop's
# interpreter lock: it prints its base URL, then serves until its stdin closes.
_SERVER_PROGRAM = """
import sys
from byourside.testing import FakeServer
with FakeServer(api_key=sys.argv[1], ring_seconds=0.5, talk_seconds=4.5) as server:
    print(server.base_url, flush=True)
    sys.stdin.read()
"""


@contextmanager
def fake_server_process() -> Iterator[str]:
    """The base URL of a FakeServer running in a child process, stopped on exit."""
    child = subprocess.Popen(
        [sys.executable, "-c", _SERVER_PROGRAM, API_KEY],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        yield child.stdout.readline().strip()
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(timeout=30)


def async_round_trip(base_url: str, call_id: str, n: int, rounds: int) -> tuple[float, float]:
    """Median seconds for `n` sequential get_call: through an AsyncClient, and through a Client."""
    sync_times: list[float] = []
    async_times: list[float] = []

    async def run_async(client: AsyncClient) -> None:
        for _ in range(n):
            await client.get_call(call_id)

    async def main() -> None:
        async with AsyncClient(API_KEY, base_url=base_url) as aclient:
            with Client(API_KEY, base_url=base_url) as client:
                for _ in range(rounds):  # alternated, so drift hits both alike
                    start = time.perf_counter()
                    for _ in range(n):
                        client.get_call(call_id)
                    sync_times.append(time.perf_counter() - start)
                    start = time.perf_counter()
                    await run_async(aclient)
                    async_times.append(time.perf_counter() - start)

    asyncio.run(main())
    return statistics.median(async_times), statistics.median(sync_times)


@dataclass
class ConcurrentWaits:
    """What `concurrent_waits` measured."""

    waits: int
    completed: int
    max_workers: int
    peak_pool_threads: int
    peak_requests_in_threads: int
    peak_process_threads: int
    lag_p99_ms: float
    lag_max_ms: float
    cpu_seconds: float
    wall_seconds: float
    polls: int


def _pool_threads() -> int:
    return sum(1 for t in threading.enumerate() if t.name.startswith("byourside-async"))


def concurrent_waits(n: int, max_workers: int = DEFAULT_WORKERS, interval: float = 0.5) -> ConcurrentWaits:
    """Place `n` calls, then wait for all of them at once, each polling every `interval` s.

    A 10 ms ticker runs beside the waits: its lateness is the event loop's lag. The ticker also
    samples the threads of the client's pool and of the whole process.
    """
    with fake_server_process() as base_url:
        return asyncio.run(_concurrent_waits(base_url, n, max_workers, interval))


async def _concurrent_waits(base_url: str, n: int, max_workers: int, interval: float) -> ConcurrentWaits:
    lags: list[float] = []
    peaks = {"pool": 0, "process": 0, "in_threads": 0}
    sent = [0]
    in_threads = [0]
    lock = threading.Lock()
    stop = asyncio.Event()

    async with AsyncClient(API_KEY, base_url=base_url, max_workers=max_workers) as client:
        transport = client._transport._transport
        original = transport.request

        def counted(*args: object, **kwargs: object) -> object:
            # Counts the exchanges running in threads at once: the threads really in use.
            with lock:
                sent[0] += 1
                in_threads[0] += 1
                peaks["in_threads"] = max(peaks["in_threads"], in_threads[0])
            try:
                return original(*args, **kwargs)  # type: ignore[arg-type]
            finally:
                with lock:
                    in_threads[0] -= 1

        transport.request = counted  # type: ignore[method-assign,assignment]

        async def ticker() -> None:
            while not stop.is_set():
                start = time.perf_counter()
                await asyncio.sleep(0.01)
                lags.append(time.perf_counter() - start - 0.01)
                peaks["pool"] = max(peaks["pool"], _pool_threads())
                peaks["process"] = max(peaks["process"], threading.active_count())

        numbers = [f"+1415555{1000 + i % 9000:04d}" for i in range(n)]
        placed = await asyncio.gather(*(client.place_call(to, "Confirm the appointment") for to in numbers))
        sent[0] = 0  # from here on, the polls alone
        ticking = asyncio.create_task(ticker())
        cpu0, wall0 = time.process_time(), time.perf_counter()
        done = await asyncio.gather(
            *(client.wait_for_call(p.call_id, timeout=600, interval=interval) for p in placed)
        )
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        stop.set()
        await ticking
    lags.sort()
    return ConcurrentWaits(
        waits=n,
        completed=sum(1 for call in done if call.is_terminal),
        max_workers=max_workers,
        peak_pool_threads=peaks["pool"],
        peak_requests_in_threads=peaks["in_threads"],
        peak_process_threads=peaks["process"],
        lag_p99_ms=lags[min(len(lags) - 1, int(len(lags) * 0.99))] * 1000,
        lag_max_ms=lags[-1] * 1000,
        cpu_seconds=cpu,
        wall_seconds=wall,
        polls=sent[0],
    )
