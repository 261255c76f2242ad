from __future__ import annotations

import sqlite3
from contextlib import closing


class SqliteEventStore:
    """Handled event ids in one SQLite file, shared by every worker process of this host."""

    def __init__(self, path: str) -> None:
        self.path = path
        with closing(self._connect()) as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS webhook_events ("
                " event_id TEXT PRIMARY KEY,"
                " received_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)"  # prune old rows by this
            )

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=10, isolation_level=None)

    def add_if_new(self, event_id: str) -> bool:
        # The primary key makes the insert the atomic check: one worker wins, the others see 0 rows.
        with closing(self._connect()) as db:
            inserted = db.execute("INSERT OR IGNORE INTO webhook_events (event_id) VALUES (?)", (event_id,))
            return inserted.rowcount == 1

    def discard(self, event_id: str) -> None:
        with closing(self._connect()) as db:
            db.execute("DELETE FROM webhook_events WHERE event_id = ?", (event_id,))
