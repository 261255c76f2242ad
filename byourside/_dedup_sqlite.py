"""`SqliteEventStore`: webhook claims in one SQLite file, shared by the worker processes of one host.

Every operation is one SQL statement in autocommit mode, so it is atomic across processes; the
file is in WAL mode (readers never wait for the writer) and waits up to `timeout` seconds for a
lock rather than failing. A process killed at any point leaves no half-written state: a claim it
held simply expires with its lease.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable

from byourside._dedup import DEFAULT_RETENTION_SECONDS, ClaimState, check_positive

__all__ = ["SqliteEventStore"]

_PRUNE_EVERY_SECONDS = 60.0

# `until` is when the record stops counting: the end of a lease, or of a done id's retention.
# A record whose `until` has passed is the same as no record, so the upsert takes it over.
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS byourside_webhook_events ("
    " event_id TEXT PRIMARY KEY, state TEXT NOT NULL, owner TEXT NOT NULL, until REAL NOT NULL"
    ") WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS byourside_webhook_events_until ON byourside_webhook_events (until)",
)
_CLAIM = (
    "INSERT INTO byourside_webhook_events (event_id, state, owner, until) VALUES (?, 'processing', ?, ?) "
    "ON CONFLICT (event_id) DO UPDATE SET state = 'processing', owner = excluded.owner, "
    "until = excluded.until WHERE byourside_webhook_events.until <= ?"
)
_COMPLETE = (
    "INSERT INTO byourside_webhook_events (event_id, state, owner, until) VALUES (?, 'done', ?, ?) "
    "ON CONFLICT (event_id) DO UPDATE SET state = 'done', owner = excluded.owner, until = excluded.until"
)


class SqliteEventStore:
    """An `EventStore` in a SQLite file: for several worker processes on one host (gunicorn -w 4).

    Args:
        path: the database file; created with its table if missing. Put it on a local disk (not
            NFS), in a directory every worker can write.
        retention_seconds: how long a ``done`` id is remembered (default 7 days); older records
            are deleted about once a minute.
        timeout: how long an operation waits for another process's write lock.
        clock: the current unix time; for tests.

    Example:
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "events.sqlite3")
        >>> store = SqliteEventStore(path)
        >>> store.claim("evt_1", "worker-a", 60), store.claim("evt_1", "worker-b", 60)
        ('claimed', 'processing')
        >>> store.complete("evt_1", "worker-a")
        >>> store.claim("evt_1", "worker-b", 60)
        'done'
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        retention_seconds: float = DEFAULT_RETENTION_SECONDS,
        timeout: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = os.fspath(path)
        if self.path in ("", ":memory:") or self.path.startswith("file:"):
            # Each worker's (and thread's) connection would get its own private database.
            raise ValueError(f"path must be a database file that every worker opens, got {self.path!r}")
        self.retention_seconds = check_positive("retention_seconds", retention_seconds)
        self.timeout = check_positive("timeout", timeout)
        self._clock = clock
        # One connection per thread and process: a connection must not cross a fork (gunicorn
        # --preload imports the app, and so builds this store, before forking its workers).
        self._local = threading.local()
        self._next_prune = 0.0
        db = self._db()
        db.execute("PRAGMA journal_mode = WAL")
        for statement in _SCHEMA:
            db.execute(statement)

    def _db(self) -> sqlite3.Connection:
        local = self._local
        if getattr(local, "pid", None) != os.getpid():
            db = sqlite3.connect(
                self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False
            )
            # FULL: a claim or a done mark that returned survives a power cut, not only a crash.
            db.execute("PRAGMA synchronous = FULL")
            local.db, local.pid = db, os.getpid()
        connection: sqlite3.Connection = local.db
        return connection

    def claim(self, event_id: str, owner: str, lease_seconds: float) -> ClaimState:
        """See `EventStore.claim`."""
        db = self._db()
        now = self._clock()
        if now >= self._next_prune:
            self._next_prune = now + _PRUNE_EVERY_SECONDS
            db.execute("DELETE FROM byourside_webhook_events WHERE until <= ?", (now,))
        if db.execute(_CLAIM, (event_id, owner, now + lease_seconds, now)).rowcount == 1:
            return "claimed"
        query = "SELECT state FROM byourside_webhook_events WHERE event_id = ?"
        row = db.execute(query, (event_id,)).fetchone()
        # No row: it expired and was pruned between the two statements; the next delivery takes it.
        return "done" if row is not None and row[0] == "done" else "processing"

    def complete(self, event_id: str, owner: str) -> None:
        """See `EventStore.complete`."""
        self._db().execute(_COMPLETE, (event_id, owner, self._clock() + self.retention_seconds))

    def release(self, event_id: str, owner: str) -> None:
        """See `EventStore.release`."""
        query = "DELETE FROM byourside_webhook_events WHERE event_id = ? AND owner = ?"
        self._db().execute(query, (event_id, owner))

    def __len__(self) -> int:
        """How many records the file holds (expired ones included until pruned)."""
        return int(self._db().execute("SELECT count(*) FROM byourside_webhook_events").fetchone()[0])

    def __repr__(self) -> str:
        return f"SqliteEventStore({self.path!r}, retention_seconds={self.retention_seconds:g})"
