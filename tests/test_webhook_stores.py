"""The event stores' lease contract (in-memory, SQLite, Redis against a real redis-server) and the
deduplicator's answers: claimed / processing (409) / done, expiry, owners, retention, atomicity."""

from __future__ import annotations

import asyncio
import multiprocessing
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from byourside import (
    EventInProgressError,
    EventStore,
    InMemoryEventStore,
    SqliteEventStore,
    WebhookDeduplicator,
    WebhookEvent,
)
from tests import payloads

HAS_REDIS_SERVER = shutil.which("redis-server") is not None


class ManualClock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not HAS_REDIS_SERVER:
        pytest.skip("redis-server is not installed (.ci/run installs it)")
    from tests.webhook_crash.support import RedisServer

    server = RedisServer(tmp_path_factory.mktemp("redis"))
    try:
        yield server.url
    finally:
        server.stop()


_prefixes = iter(range(10**9))


def make_store(kind: str, tmp_path: Path, clock: ManualClock, request: pytest.FixtureRequest) -> Any:
    if kind == "memory":
        return InMemoryEventStore(retention_seconds=100, clock=clock)
    if kind == "sqlite":
        return SqliteEventStore(tmp_path / "events.sqlite3", retention_seconds=100, clock=clock)
    from byourside import RedisEventStore

    url = request.getfixturevalue("redis_url")
    return RedisEventStore(url=url, prefix=f"test:{next(_prefixes)}:", retention_seconds=100)


NEEDS_REDIS = pytest.mark.skipif(not HAS_REDIS_SERVER, reason="no redis-server")
KINDS = ["memory", "sqlite", pytest.param("redis", marks=NEEDS_REDIS)]
CLOCKED_KINDS = ["memory", "sqlite"]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


# --- the contract, every store ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_claim_then_processing_then_done(kind: str, tmp_path: Path, clock: ManualClock,
                                         request: pytest.FixtureRequest) -> None:
    store: EventStore = make_store(kind, tmp_path, clock, request)
    assert store.claim("evt_1", "a", 60) == "claimed"
    assert store.claim("evt_1", "b", 60) == "processing"
    assert store.claim("evt_2", "b", 60) == "claimed"  # ids are independent
    store.complete("evt_1", "a")
    assert store.claim("evt_1", "b", 60) == "done"
    assert store.claim("evt_1", "a", 60) == "done"


@pytest.mark.parametrize("kind", KINDS)
def test_release_by_the_owner_frees_the_id_and_by_anyone_else_does_nothing(
    kind: str, tmp_path: Path, clock: ManualClock, request: pytest.FixtureRequest
) -> None:
    store: EventStore = make_store(kind, tmp_path, clock, request)
    store.claim("evt_1", "a", 60)
    store.release("evt_1", "b")
    assert store.claim("evt_1", "c", 60) == "processing"
    store.release("evt_1", "a")
    assert store.claim("evt_1", "c", 60) == "claimed"
    store.release("evt_never", "a")  # nothing to release: no error


@pytest.mark.parametrize("kind", KINDS)
def test_each_id_is_claimed_by_exactly_one_of_many_threads(
    kind: str, tmp_path: Path, clock: ManualClock, request: pytest.FixtureRequest
) -> None:
    # One store object per thread for SQLite and Redis: as separate workers would have.
    shared = make_store(kind, tmp_path, clock, request)
    threads_count = 8
    stores = [shared if kind == "memory" else make_store_like(shared, kind, tmp_path, clock)
              for _ in range(threads_count)]
    start = threading.Barrier(threads_count)
    claimed: list[str] = []
    lock = threading.Lock()

    def deliver(store: Any, owner: str) -> None:
        start.wait()
        mine = [f"evt_{i}" for i in range(40) if store.claim(f"evt_{i}", owner, 60) == "claimed"]
        with lock:
            claimed.extend(mine)

    threads = [threading.Thread(target=deliver, args=(s, f"w{n}")) for n, s in enumerate(stores)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(claimed) == sorted(f"evt_{i}" for i in range(40))


def make_store_like(store: Any, kind: str, tmp_path: Path, clock: ManualClock) -> Any:
    if kind == "sqlite":
        return SqliteEventStore(store.path, retention_seconds=100, clock=clock)
    from byourside import RedisEventStore

    return RedisEventStore(url=_url_of(store), prefix=store.prefix, retention_seconds=100)


def _url_of(store: Any) -> str:
    kwargs = store.client.connection_pool.connection_kwargs
    return f"redis://{kwargs['host']}:{kwargs['port']}/{kwargs.get('db', 0)}"


# --- leases and retention on a clock the test moves ---------------------------------------------------


@pytest.mark.parametrize("kind", CLOCKED_KINDS)
def test_an_expired_lease_is_claimed_again_and_the_old_owner_cannot_release_it(
    kind: str, tmp_path: Path, clock: ManualClock, request: pytest.FixtureRequest
) -> None:
    store = make_store(kind, tmp_path, clock, request)
    assert store.claim("evt_1", "killed", 5) == "claimed"
    clock.now += 4.9
    assert store.claim("evt_1", "b", 5) == "processing"
    clock.now += 0.1
    assert store.claim("evt_1", "b", 5) == "claimed"  # the lease ended: b takes over
    store.release("evt_1", "killed")  # the first owner, back from the dead, frees nothing
    assert store.claim("evt_1", "c", 5) == "processing"
    store.complete("evt_1", "b")
    assert store.claim("evt_1", "c", 5) == "done"


@pytest.mark.parametrize("kind", CLOCKED_KINDS)
def test_a_done_id_is_forgotten_after_the_retention(
    kind: str, tmp_path: Path, clock: ManualClock, request: pytest.FixtureRequest
) -> None:
    store = make_store(kind, tmp_path, clock, request)
    store.claim("evt_1", "a", 5)
    store.complete("evt_1", "a")
    clock.now += 99
    assert store.claim("evt_1", "b", 5) == "done"
    clock.now += 1
    assert store.claim("evt_1", "b", 5) == "claimed"


def test_sqlite_prunes_expired_records_about_once_a_minute(tmp_path: Path, clock: ManualClock) -> None:
    store = SqliteEventStore(tmp_path / "events.sqlite3", retention_seconds=10, clock=clock)
    for i in range(5):
        store.claim(f"evt_{i}", "a", 5)
        store.complete(f"evt_{i}", "a")
    assert len(store) == 5
    clock.now += 30
    store.claim("evt_new", "a", 5)
    assert len(store) == 6  # expired, but the last prune was under a minute ago
    clock.now += 31
    store.claim("evt_newer", "a", 5)
    assert len(store) == 1  # pruned: the five done ids and evt_new, whose lease ended; evt_newer stays


@pytest.mark.parametrize("path", ["", ":memory:", "file:events?mode=memory"])
def test_sqlite_refuses_a_database_the_workers_would_not_share(path: str) -> None:
    with pytest.raises(ValueError, match="every worker"):
        SqliteEventStore(path)


def test_sqlite_is_in_wal_mode_and_shared_across_processes(tmp_path: Path) -> None:
    path = tmp_path / "events.sqlite3"
    SqliteEventStore(path)
    import sqlite3

    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    context = multiprocessing.get_context("spawn")
    with context.Pool(4) as pool:
        results = pool.map(_claim_all, [(str(path), f"p{n}") for n in range(4)])
    claimed = [event_id for result in results for event_id in result]
    assert sorted(claimed) == sorted(f"evt_{i}" for i in range(50))


def _claim_all(args: tuple[str, str]) -> list[str]:
    path, owner = args
    store = SqliteEventStore(path)
    return [f"evt_{i}" for i in range(50) if store.claim(f"evt_{i}", owner, 60) == "claimed"]


@pytest.mark.skipif(not HAS_REDIS_SERVER, reason="no redis-server")
def test_redis_leases_and_retention_expire_on_the_server(redis_url: str) -> None:
    from byourside import RedisEventStore

    store = RedisEventStore(url=redis_url, prefix="test:ttl:", retention_seconds=3600)
    assert store.claim("evt_1", "killed", 0.2) == "claimed"
    assert 0 < store.client.pttl("test:ttl:evt_1") <= 200
    deadline = time.monotonic() + 30
    while store.claim("evt_1", "b", 60) == "processing":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    store.complete("evt_1", "b")
    assert 3_590_000 < store.client.pttl("test:ttl:evt_1") <= 3_600_000
    assert store.client.get("test:ttl:evt_1") == b"d:b"


def test_redis_store_needs_exactly_one_of_client_and_url() -> None:
    from byourside import RedisEventStore

    with pytest.raises(TypeError, match="exactly one"):
        RedisEventStore()
    import redis

    with pytest.raises(TypeError, match="exactly one"):
        RedisEventStore(redis.Redis(), url="redis://127.0.0.1:1/0")


def test_import_byourside_never_imports_redis() -> None:
    code = (
        "import sys, byourside, byourside.webhooks\n"
        "byourside.SqliteEventStore, byourside.WebhookDeduplicator\n"
        "assert 'redis' not in sys.modules, 'redis imported'\n"
        "byourside.RedisEventStore\n"
        "assert 'redis' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("bad", [0, -1, float("inf"), float("nan"), True, "60"])
def test_bad_durations_are_refused(bad: Any, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="seconds"):
        WebhookDeduplicator(lease_seconds=bad)
    with pytest.raises(ValueError, match="retention_seconds"):
        InMemoryEventStore(retention_seconds=bad)
    with pytest.raises(ValueError, match="retention_seconds"):
        SqliteEventStore(tmp_path / "x.sqlite3", retention_seconds=bad)


# --- a model of the contract, against the clocked stores ----------------------------------------------

OPERATIONS = st.lists(
    st.tuples(
        st.sampled_from(["claim", "complete", "release", "wait"]),
        st.sampled_from(["evt_1", "evt_2"]),
        st.sampled_from(["a", "b", "c"]),
        st.sampled_from([1.0, 5.0, 20.0]),
    ),
    max_size=30,
)


class ModelStore:
    """The contract in a few lines: the reference the real stores must agree with."""

    def __init__(self, clock: Callable[[], float], retention: float) -> None:
        self.records: dict[str, tuple[str, str, float]] = {}
        self.clock, self.retention = clock, retention

    def claim(self, event_id: str, owner: str, lease: float) -> str:
        record = self.records.get(event_id)
        if record is not None and record[2] > self.clock():
            return "done" if record[0] == "done" else "processing"
        self.records[event_id] = ("processing", owner, self.clock() + lease)
        return "claimed"

    def complete(self, event_id: str, owner: str) -> None:
        self.records[event_id] = ("done", owner, self.clock() + self.retention)

    def release(self, event_id: str, owner: str) -> None:
        if self.records.get(event_id, ("", "", 0.0))[1] == owner:
            del self.records[event_id]


@pytest.mark.parametrize("kind", CLOCKED_KINDS)
@settings(max_examples=60, deadline=None)
@given(operations=OPERATIONS)
def test_stores_agree_with_the_model(kind: str, operations: list[tuple[str, str, str, float]],
                                     tmp_path_factory: pytest.TempPathFactory) -> None:
    clock = ManualClock()
    if kind == "memory":
        store: Any = InMemoryEventStore(retention_seconds=10, clock=clock)
    else:
        path = tmp_path_factory.mktemp("model") / "e.sqlite3"
        store = SqliteEventStore(path, retention_seconds=10, clock=clock)
    model = ModelStore(clock, 10)
    for operation, event_id, owner, seconds in operations:
        if operation == "wait":
            clock.now += seconds
        elif operation == "claim":
            assert store.claim(event_id, owner, seconds) == model.claim(event_id, owner, seconds)
        else:
            getattr(store, operation)(event_id, owner)
            getattr(model, operation)(event_id, owner)


# --- the deduplicator's answers -------------------------------------------------------------------------


def event(event_id: str = "evt_1") -> WebhookEvent:
    return WebhookEvent.model_validate(payloads.webhook_event("call.completed") | {"eventId": event_id})


def test_a_delivery_during_another_workers_lease_raises_event_in_progress() -> None:
    store = InMemoryEventStore()
    dedupe = WebhookDeduplicator(store, lease_seconds=45)
    store.claim("evt_1", "other-worker", 45)
    ran: list[str] = []

    @dedupe.idempotent
    def handle(received: WebhookEvent) -> str:
        ran.append(received.event_id)
        return "handled"

    with pytest.raises(EventInProgressError) as caught:
        handle(event())
    error = caught.value
    assert (error.code, error.status, error.call_id) == ("event_in_progress", 409, payloads.CALL_ID)
    assert "evt_1" in error.message
    assert "45 s" in error.message
    assert ran == []
    store.complete("evt_1", "other-worker")
    assert handle(event()) is None  # done by the other worker: acknowledged, not run
    assert ran == []


def test_a_handler_outliving_its_lease_is_taken_over_by_the_next_delivery() -> None:
    clock = ManualClock()
    store = InMemoryEventStore(clock=clock)
    dedupe = WebhookDeduplicator(store, lease_seconds=10)
    runs: list[str] = []

    @dedupe.idempotent
    def handle(received: WebhookEvent) -> None:
        runs.append(received.event_id)

    store.claim("evt_1", "killed-worker", 10)
    with pytest.raises(EventInProgressError):
        handle(event())
    clock.now += 10
    handle(event())
    handle(event())
    assert runs == ["evt_1"]


def test_async_handlers_get_the_same_answers() -> None:
    store = InMemoryEventStore()
    dedupe = WebhookDeduplicator(store)

    @dedupe.idempotent
    async def handle(received: WebhookEvent) -> str:
        await asyncio.sleep(0)
        return received.event_id

    store.claim("evt_busy", "other", 60)

    async def deliveries() -> list[str | None]:
        with pytest.raises(EventInProgressError):
            await handle(event("evt_busy"))
        return [await handle(event("evt_2")), await handle(event("evt_2"))]

    assert asyncio.run(deliveries()) == ["evt_2", None]


def test_seen_from_one_deduplicator_is_not_released_by_another() -> None:
    store = InMemoryEventStore()
    first, second = WebhookDeduplicator(store), WebhookDeduplicator(store)
    assert first.seen("evt_1") is False
    second.forget("evt_1")  # not its record
    assert second.seen("evt_1") is True
    first.forget("evt_1")
    assert second.seen("evt_1") is False
