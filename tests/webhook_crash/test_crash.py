"""Workers SIGKILLed mid-handler lose no webhook event and run none twice (marker ``crash``).

Each run: ``EVENTS`` events, each delivered 3 times at once by a driver that redelivers any
non-2xx as the service does, to receivers under gunicorn whose workers are SIGKILLed at random
mid-handler (gunicorn restarts them). The handler appends the event id to a file when it
completes. Every event must be completed exactly once, and every delivery acknowledged.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.webhook_crash.support import (
    CrashSetup,
    DeliveryStats,
    Killer,
    RedisServer,
    deliver_all,
    events,
    receivers,
)

pytestmark = pytest.mark.crash

EVENTS = int(os.environ.get("BYS_CRASH_EVENTS", "1000"))
MIN_KILLS = 5  # fewer would not show the point: the test fails rather than pass vacuously


def check_exactly_once(setup: CrashSetup, batch: list[tuple[str, bytes]], stats: DeliveryStats,
                       killer: Killer, label: str) -> None:
    completions = setup.completions()
    expected = {event_id for event_id, _ in batch}
    twice = {event_id: n for event_id, n in completions.items() if n > 1}
    lost = expected - set(completions)
    print(
        f"\n{label}: {len(batch)} events x 3 deliveries, {stats.attempts} attempts "
        f"({dict(sorted(stats.statuses.items()))}), {killer.kills} workers SIGKILLed mid-handler, "
        f"{len(completions)} events completed, {len(lost)} lost, {len(twice)} completed twice, "
        f"{stats.seconds:.1f} s"
    )
    assert killer.kills >= MIN_KILLS, f"only {killer.kills} kills: the run did not test crashes"
    assert stats.statuses[0] >= killer.kills  # each kill cut one delivery off mid-request
    assert stats.statuses[409] > 0  # redeliveries met a live lease and were refused, not acked
    assert not lost
    assert not twice
    assert set(completions) == expected


def test_sqlite_store_under_gunicorn_4_workers_completes_every_event_exactly_once(tmp_path: Path) -> None:
    setup = CrashSetup(tmp_path, f"sqlite:{tmp_path / 'events.sqlite3'}")
    batch = events(EVENTS, "sqlite")
    with receivers(setup, hosts=1, workers=4) as started, Killer(setup.busy_dir) as killer:
        stats = deliver_all([r.port for r in started], batch)
    check_exactly_once(setup, batch, stats, killer, "SqliteEventStore, 1 host x 4 workers")


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")
def test_redis_store_on_two_hosts_completes_every_event_exactly_once(tmp_path: Path) -> None:
    redis = RedisServer(tmp_path)
    try:
        setup = CrashSetup(tmp_path, f"redis:{redis.url}")
        batch = events(EVENTS, "redis")
        with receivers(setup, hosts=2, workers=2) as started, Killer(setup.busy_dir) as killer:
            stats = deliver_all([r.port for r in started], batch)
        check_exactly_once(setup, batch, stats, killer, "RedisEventStore, 2 hosts x 2 workers")
    finally:
        redis.stop()


# --- Controls: the same harness catches the failures of the earlier recipe --------------------

CONTROL_EVENTS = 300


def test_control_the_earlier_seen_recipe_with_a_shared_store_loses_events(tmp_path: Path) -> None:
    # Claim-then-handle with no lease: a worker killed mid-handler leaves its event claimed, and
    # every redelivery is acknowledged without running it.
    setup = CrashSetup(tmp_path, f"sqlite:{tmp_path / 'events.sqlite3'}", mode="seen")
    batch = events(CONTROL_EVENTS, "seen")
    with receivers(setup, hosts=1, workers=4) as started, Killer(setup.busy_dir) as killer:
        deliver_all([r.port for r in started], batch)
    lost = {event_id for event_id, _ in batch} - set(setup.completions())
    print(f"\ncontrol, seen() + SqliteEventStore: {killer.kills} kills, {len(lost)} events lost")
    assert killer.kills >= MIN_KILLS
    assert len(lost) == killer.kills  # each kill lost its event for good


def test_control_the_in_memory_store_under_4_workers_runs_events_twice(tmp_path: Path) -> None:
    setup = CrashSetup(tmp_path, "memory")
    batch = events(CONTROL_EVENTS, "memory")
    with receivers(setup, hosts=1, workers=4) as started:
        deliver_all([r.port for r in started], batch)
    twice = [event_id for event_id, n in setup.completions().items() if n > 1]
    print(f"\ncontrol, in-memory store x 4 workers: {len(twice)} of {CONTROL_EVENTS} run twice+")
    assert twice
