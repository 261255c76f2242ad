"""The clocks a `FakeServer` reads: real time by default, or a `FakeClock` a test moves by hand.

A call's lifecycle, the rate-limit window and every timestamp the server reports follow the
server's clock, so a test drives a call from ``queued`` to its end with `FakeClock.advance`
instead of sleeping. Webhook signatures are the exception: they are stamped with the real time
they are sent, because the receiver checks them against its own real clock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "FakeClock", "SystemClock"]


@runtime_checkable
class Clock(Protocol):
    """What the server needs from a clock: the time, and a word when it jumps."""

    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...

    def real_seconds_until(self, clock_seconds: float) -> float | None:
        """How long, in real time, until ``clock_seconds`` of this clock have passed.

        None when only an explicit `FakeClock.advance` moves the clock: the server then waits
        for `subscribe`'s callback instead of a timeout.
        """
        ...

    def subscribe(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (synchronously) after every jump of the clock."""
        ...

    def unsubscribe(self, callback: Callable[[], None]) -> None:
        """Stop calling ``callback``; unknown callbacks are ignored."""
        ...


class SystemClock:
    """Real time: wall-clock timestamps that advance with the monotonic clock, never backwards.

    Example:
        >>> clock = SystemClock()
        >>> clock.now() <= clock.now()
        True
    """

    def __init__(self) -> None:
        self._wall_at_start = datetime.now(timezone.utc)
        self._monotonic_at_start = time.monotonic()

    def now(self) -> datetime:
        """The current time, in UTC."""
        return self._wall_at_start + timedelta(seconds=time.monotonic() - self._monotonic_at_start)

    def real_seconds_until(self, clock_seconds: float) -> float | None:
        """Real time is this clock's time."""
        return max(0.0, clock_seconds)

    def subscribe(self, callback: Callable[[], None]) -> None:
        """Real time never jumps; nothing to call."""

    def unsubscribe(self, callback: Callable[[], None]) -> None:
        """Real time never jumps; nothing to forget."""

    def __repr__(self) -> str:
        return "SystemClock()"


class FakeClock:
    """A clock that stands still until a test moves it with `advance`.

    It starts at ``start`` (default: the real time, to the second, when it is made) so timestamps
    look plausible. Everything the server derives from the clock (call statuses, webhook events,
    rate-limit windows) catches up inside `advance`, before it returns.

    Example:
        >>> from datetime import datetime, timezone
        >>> clock = FakeClock(datetime(2030, 1, 1, tzinfo=timezone.utc))
        >>> clock.advance(90)
        >>> clock.now().isoformat()
        '2030-01-01T00:01:30+00:00'
    """

    def __init__(self, start: datetime | None = None) -> None:
        if start is None:
            start = datetime.now(timezone.utc).replace(microsecond=0)
        elif start.tzinfo is None:
            raise ValueError("FakeClock needs a timezone-aware start time")
        self._now = start.astimezone(timezone.utc)
        self._lock = threading.Lock()
        self._callbacks: list[Callable[[], None]] = []

    def now(self) -> datetime:
        """The time the clock was last moved to."""
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds`` and let the server catch up before returning.

        Its signature fits a client's ``sleep`` seam: ``Client(..., sleep=clock.advance)`` makes
        ``wait_for_call`` move this clock instead of sleeping.
        """
        if seconds < 0:
            raise ValueError("a clock never goes backwards")
        with self._lock:
            self._now += timedelta(seconds=seconds)
            callbacks = list(self._callbacks)
        for callback in callbacks:
            callback()

    def real_seconds_until(self, clock_seconds: float) -> float | None:
        """Never by itself: only `advance` moves this clock."""
        return None

    def subscribe(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` after every `advance`."""
        with self._lock:
            self._callbacks.append(callback)

    def unsubscribe(self, callback: Callable[[], None]) -> None:
        """Stop calling ``callback`` after `advance`."""
        with self._lock:
            if callback in self._callbacks:
                self._callbacks.remove(callback)

    def __repr__(self) -> str:
        return f"FakeClock({self.now().isoformat()!r})"
