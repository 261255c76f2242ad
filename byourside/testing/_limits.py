"""The fake server's account limits: a request rate and an outbound minutes cap, both off by default.

The service documents neither number, nor how it counts; the fake server's choices:

* **Rate limit** (``rate_limit`` requests per ``rate_window`` seconds of the server's clock, per
  API key, every route counted): a fixed window that opens with the key's first request. A request
  over the limit is answered 429 ``rate_limited`` with ``Retry-After``: the whole seconds until the
  window closes (at least 1). Refused requests do not count.
* **Minutes cap** (``minute_cap`` minutes per API key): an answered call bills its talk time
  rounded up to whole minutes (at least one) when it is placed; an unanswered one bills nothing.
  Once a key's billed minutes reach the cap, a placement is answered 429 ``over_minute_cap``,
  without ``Retry-After``: the cap does not reset while the server runs. Reads are not capped.
"""

from __future__ import annotations

import math
import threading
from datetime import datetime, timedelta

__all__ = ["MinuteLedger", "RateLimiter", "billable_minutes"]


def billable_minutes(talk_seconds: float, answered: bool) -> int:
    """The minutes a call bills: its talk time rounded up, at least one; nothing when unanswered.

    >>> billable_minutes(1.5, True), billable_minutes(61, True), billable_minutes(90, False)
    (1, 2, 0)
    """
    if not answered:
        return 0
    return max(1, math.ceil(talk_seconds / 60))


class RateLimiter:
    """At most ``limit`` requests per key in each fixed ``window`` of clock seconds."""

    def __init__(self, limit: int | None, window_seconds: float) -> None:
        if limit is not None and limit < 1:
            raise ValueError("rate_limit must be at least 1 (or None for no limit)")
        if window_seconds <= 0:
            raise ValueError("rate_window must be positive")
        self.limit = limit
        self.window = timedelta(seconds=window_seconds)
        self._windows: dict[str, tuple[datetime, int]] = {}
        self._lock = threading.Lock()

    def admit(self, key: str, now: datetime) -> int | None:
        """Count a request of ``key``; None when admitted, else the Retry-After seconds."""
        if self.limit is None:
            return None
        with self._lock:
            opened, count = self._windows.get(key, (now, 0))
            if now >= opened + self.window:
                opened, count = now, 0
            if count >= self.limit:
                remaining = (opened + self.window - now).total_seconds()
                return max(1, math.ceil(remaining))
            self._windows[key] = (opened, count + 1)
            return None


class MinuteLedger:
    """Minutes billed per key, against an optional cap."""

    def __init__(self, cap: int | None) -> None:
        if cap is not None and cap < 0:
            raise ValueError("minute_cap must be non-negative (or None for no cap)")
        self.cap = cap
        self._used: dict[str, int] = {}
        self._lock = threading.Lock()

    def used(self, key: str) -> int:
        """The minutes ``key`` has billed so far."""
        with self._lock:
            return self._used.get(key, 0)

    def try_bill(self, key: str, minutes: int) -> bool:
        """Bill ``minutes`` to ``key`` unless its cap is already reached; whether it was billed."""
        with self._lock:
            used = self._used.get(key, 0)
            if self.cap is not None and used >= self.cap:
                return False
            self._used[key] = used + minutes
            return True
