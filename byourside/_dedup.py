"""Handle each webhook event once, even when workers crash: claims with a lease, then ``done``.

The service redelivers an event (same ``eventId``) until it gets a 2xx. `WebhookDeduplicator`
claims the id in an `EventStore` before the handler runs:

* nobody holds it: the claim is ``processing`` under a lease of ``lease_seconds``; the handler runs;
  on success the id is ``done``, on an exception it is released (so the redelivery runs it again);
* it is ``done``: the delivery is acknowledged (2xx) without running the handler;
* another worker holds a live lease: `EventInProgressError` (answer 409), never a 2xx, so the
  service delivers it again later: if that worker dies, the event is not lost;
* the lease expired (its worker was killed mid-handler): the claim is taken again and handled.
"""

from __future__ import annotations

import functools
import inspect
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Concatenate, Literal, ParamSpec, Protocol, TypeVar, overload

from byourside._models import WebhookEvent
from byourside.errors import EventInProgressError

__all__ = [
    "DEFAULT_LEASE_SECONDS",
    "DEFAULT_RETENTION_SECONDS",
    "ClaimState",
    "EventStore",
    "InMemoryEventStore",
    "WebhookDeduplicator",
    "check_positive",
]

EventT = TypeVar("EventT", bound=WebhookEvent[Any])
P = ParamSpec("P")
R = TypeVar("R")

ClaimState = Literal["claimed", "processing", "done"]
"""What `EventStore.claim` found: ``claimed`` (now yours), ``processing`` (another worker's live
lease) or ``done`` (handled already)."""

DEFAULT_LEASE_SECONDS = 60.0
DEFAULT_RETENTION_SECONDS = 7 * 24 * 3600.0
_DEFAULT_MAXSIZE = 10_000


class EventStore(Protocol):
    """Where claims live: three atomic operations on one record per event id. Implement it to use
    your own database; `InMemoryEventStore`, `SqliteEventStore` and `RedisEventStore` ship.

    A record is ``processing`` (with its owner and the time its lease ends) or ``done`` (with its
    owner). Each method must be atomic across every process that receives webhooks.
    """

    def claim(self, event_id: str, owner: str, lease_seconds: float) -> ClaimState:
        """Take `event_id` for `owner` if it has no record, or its record is ``processing`` with an
        expired lease, and say ``claimed``; else say ``processing`` (live lease) or ``done``."""
        ...

    def complete(self, event_id: str, owner: str) -> None:
        """Record `event_id` as ``done`` (kept for the store's retention), whoever holds it now."""
        ...

    def release(self, event_id: str, owner: str) -> None:
        """Delete the record of `event_id` if `owner` holds it, so a redelivery is handled again."""
        ...


def check_positive(name: str, value: object) -> float:
    """`value` as a float if it is a positive number of seconds (not a bool), else ValueError."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < float("inf"):
        raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
    return float(value)


class InMemoryEventStore:
    """The default `EventStore`: claims in this process's memory, thread-safe, for one process.

    At most `maxsize` records (the oldest forgotten first), and a ``done`` id is forgotten
    `retention_seconds` after it was done: size both above what the service may redeliver.

    Example:
        >>> store = InMemoryEventStore(maxsize=100)
        >>> store.claim("evt_1", "worker-a", 60), store.claim("evt_1", "worker-b", 60)
        ('claimed', 'processing')
        >>> store.complete("evt_1", "worker-a")
        >>> store.claim("evt_1", "worker-b", 60), "evt_1" in store
        ('done', True)
    """

    def __init__(
        self,
        maxsize: int = _DEFAULT_MAXSIZE,
        *,
        retention_seconds: float = DEFAULT_RETENTION_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # The type is checked at run time too: a float or a bool here is a bug, not a size.
        checked: object = maxsize
        if type(checked) is not int or maxsize < 1:
            raise ValueError(f"maxsize must be a positive int, got {maxsize!r}")
        self.maxsize = maxsize
        self.retention_seconds = check_positive("retention_seconds", retention_seconds)
        self._clock = clock
        # event id -> (state, owner, until): a lease's end, or the end of a done id's retention.
        self._records: OrderedDict[str, tuple[str, str, float]] = OrderedDict()
        self._lock = threading.Lock()

    def claim(self, event_id: str, owner: str, lease_seconds: float) -> ClaimState:
        """See `EventStore.claim`."""
        with self._lock:
            now = self._clock()
            record = self._records.get(event_id)
            if record is not None and record[2] > now:
                return "done" if record[0] == "done" else "processing"
            self._records[event_id] = ("processing", owner, now + lease_seconds)
            self._records.move_to_end(event_id)
            if len(self._records) > self.maxsize:
                self._records.popitem(last=False)
            return "claimed"

    def complete(self, event_id: str, owner: str) -> None:
        """See `EventStore.complete`."""
        with self._lock:
            self._records[event_id] = ("done", owner, self._clock() + self.retention_seconds)
            self._records.move_to_end(event_id)
            if len(self._records) > self.maxsize:
                self._records.popitem(last=False)

    def release(self, event_id: str, owner: str) -> None:
        """See `EventStore.release`."""
        with self._lock:
            record = self._records.get(event_id)
            if record is not None and record[1] == owner:
                del self._records[event_id]

    def add_if_new(self, event_id: str) -> bool:
        """Record `event_id` as done; True if it was not remembered. The earlier interface, kept
        for code that only marks ids as seen (it takes no lease: not for handling an event)."""
        with self._lock:
            record = self._records.get(event_id)
            if record is not None and record[2] > self._clock():
                self._records.move_to_end(event_id)  # redelivered: keep it remembered longest
                return False
        self.complete(event_id, "")
        return True

    def discard(self, event_id: str) -> None:
        """Forget `event_id` whatever its state or owner, if remembered."""
        with self._lock:
            self._records.pop(event_id, None)

    def __contains__(self, event_id: object) -> bool:
        with self._lock:
            record = self._records.get(event_id) if isinstance(event_id, str) else None
            return record is not None and record[2] > self._clock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)

    def __repr__(self) -> str:
        return f"InMemoryEventStore(maxsize={self.maxsize}, size={len(self)})"


_STORE_METHODS = ("claim", "complete", "release")


class WebhookDeduplicator:
    """Run a webhook handler once per ``eventId``, across workers and crashes.

    Args:
        store: where claims live; by default an `InMemoryEventStore` of `maxsize` ids (one
            process only). Several worker processes on one host: `SqliteEventStore`; several
            hosts: `RedisEventStore`.
        maxsize: the size of the default store (default 10,000); not allowed with `store`.
        lease_seconds: how long a claim holds before another delivery may take it over (default
            60). Make it longer than a handler should ever take; a worker killed mid-handler
            delays its event's handling by up to this long.

    Decorate the function that handles an event with `idempotent`.

    Example:
        >>> from byourside import WebhookEvent
        >>> dedupe = WebhookDeduplicator(maxsize=1000)
        >>> @dedupe.idempotent
        ... def handle(event: WebhookEvent) -> str:
        ...     return f"handled {event.call_id}"
        >>> event = WebhookEvent.model_validate({"event": "call.completed", "eventId": "evt_1",
        ...     "timestamp": "2026-11-25T14:00:05Z", "callId": "call_1", "status": "completed"})
        >>> handle(event), handle(event)
        ('handled call_1', None)
    """

    def __init__(
        self,
        store: EventStore | None = None,
        *,
        maxsize: int | None = None,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
    ) -> None:
        if store is not None and maxsize is not None:
            raise TypeError("maxsize sizes the default in-memory store; size your own store yourself")
        if store is None:
            store = InMemoryEventStore(_DEFAULT_MAXSIZE if maxsize is None else maxsize)
        missing = [name for name in _STORE_METHODS if not callable(getattr(store, name, None))]
        if missing:
            raise TypeError(
                f"{type(store).__name__} is not an EventStore: it has no {', '.join(missing)} method. "
                "Stores written for add_if_new/discard lose events when a worker dies mid-handler; "
                "implement claim, complete and release (see EventStore), or use SqliteEventStore."
            )
        self.store: EventStore = store
        self.lease_seconds = check_positive("lease_seconds", lease_seconds)
        self._owner = f"{uuid.uuid4().hex}-seen"

    def seen(self, event: WebhookEvent[Any] | str) -> bool:
        """True if this event id was claimed already; otherwise record it as handled and say False.

        The earlier API, kept for existing code: it marks the event ``done`` before your code has
        handled it, so a worker that dies right after loses the event, and a delivery that finds
        the event in another worker's hands gets True as well. Prefer `idempotent`. If handling
        fails, call `forget` so the redelivery is handled.
        """
        event_id = _event_id(event)
        if self.store.claim(event_id, self._owner, self.lease_seconds) != "claimed":
            return True
        self.store.complete(event_id, self._owner)
        return False

    def forget(self, event: WebhookEvent[Any] | str) -> None:
        """Release an event this deduplicator recorded with `seen`, so its redelivery is handled."""
        self.store.release(_event_id(event), self._owner)

    @overload
    def idempotent(
        self, handler: Callable[Concatenate[EventT, P], Coroutine[Any, Any, R]]
    ) -> Callable[Concatenate[EventT, P], Coroutine[Any, Any, R | None]]: ...

    @overload
    def idempotent(
        self, handler: Callable[Concatenate[EventT, P], R]
    ) -> Callable[Concatenate[EventT, P], R | None]: ...

    def idempotent(
        self, handler: Callable[Concatenate[EventT, P], Any]
    ) -> Callable[Concatenate[EventT, P], Any]:
        """Decorate a handler whose first argument is the event: it runs once per ``eventId``.

        * First delivery (or one whose lease expired): the handler runs under a lease; when it
          returns, the event is ``done`` and its value is returned.
        * The event is ``done``: returns None without calling the handler. Answer 2xx.
        * Another worker is handling it now: raises `EventInProgressError` (``status`` 409).
          Answer 409 (any non-2xx works: uncaught, your framework answers 500), so the service
          delivers it again and the event survives if that worker dies.
        * The handler raises: the claim is released and the exception propagates (answer 5xx), so
          the service's next delivery runs it again.

        Works on ``async def`` handlers too (the claim is taken when the coroutine runs).
        """
        if inspect.iscoroutinefunction(handler):
            async_handler: Callable[Concatenate[EventT, P], Awaitable[Any]] = handler

            @functools.wraps(handler)
            async def run_once_async(event: EventT, /, *args: P.args, **kwargs: P.kwargs) -> Any:
                owner = self._claim(event)
                if owner is None:
                    return None
                try:
                    result = await async_handler(event, *args, **kwargs)
                except BaseException:
                    self.store.release(event.event_id, owner)
                    raise
                self.store.complete(event.event_id, owner)
                return result

            return run_once_async

        @functools.wraps(handler)
        def run_once(event: EventT, /, *args: P.args, **kwargs: P.kwargs) -> Any:
            owner = self._claim(event)
            if owner is None:
                return None
            try:
                result = handler(event, *args, **kwargs)
            except BaseException:
                self.store.release(event.event_id, owner)
                raise
            self.store.complete(event.event_id, owner)
            return result

        return run_once

    def _claim(self, event: WebhookEvent[Any]) -> str | None:
        """A fresh owner token holding `event`'s claim; None when it is done; raises when held."""
        event_id = _event_id(event)
        owner = uuid.uuid4().hex
        state = self.store.claim(event_id, owner, self.lease_seconds)
        if state == "claimed":
            return owner
        if state == "done":
            return None
        raise EventInProgressError(
            f"Event {event_id} is being handled by another worker (its lease lasts up to "
            f"{self.lease_seconds:g} s); answer 409 so the service delivers it again.",
            409,
            "event_in_progress",
            call_id=getattr(event, "call_id", None),
        )

    def __repr__(self) -> str:
        return f"WebhookDeduplicator(store={self.store!r}, lease_seconds={self.lease_seconds:g})"


def _event_id(event: WebhookEvent[Any] | str) -> str:
    if isinstance(event, str):
        return event
    if isinstance(event, WebhookEvent):
        return event.event_id
    raise TypeError(f"expected a WebhookEvent or an event id str, got {type(event).__name__}")
