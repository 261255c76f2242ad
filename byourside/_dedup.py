"""Handle each webhook event once: the service redelivers with the same ``eventId`` when unsure.

`WebhookDeduplicator` claims an event id in an `EventStore` before the handler runs and releases
it if the handler fails, so a redelivery of a handled event is skipped while a redelivery of a
failed one is handled again. The default store is in memory and bounded (one process); give a
shared store (a database table, Redis ``SET NX``) when several workers receive webhooks.
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar, overload

from byourside._models import WebhookEvent

__all__ = ["EventStore", "InMemoryEventStore", "WebhookDeduplicator"]

EventT = TypeVar("EventT", bound=WebhookEvent)
P = ParamSpec("P")
R = TypeVar("R")

_DEFAULT_MAXSIZE = 10_000


class EventStore(Protocol):
    """Where handled event ids are recorded. Implement it to share them between workers.

    Both methods must be atomic across every process that receives webhooks: two workers given
    the same delivery at once must not both get True from `add_if_new`.

    Example (SQLite, shared by the workers of one host)::

        class SqliteEventStore:
            def __init__(self, path: str) -> None:
                self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
                self.db.execute("CREATE TABLE IF NOT EXISTS events (id TEXT PRIMARY KEY)")

            def add_if_new(self, event_id: str) -> bool:
                cursor = self.db.execute("INSERT OR IGNORE INTO events VALUES (?)", (event_id,))
                return cursor.rowcount == 1

            def discard(self, event_id: str) -> None:
                self.db.execute("DELETE FROM events WHERE id = ?", (event_id,))
    """

    def add_if_new(self, event_id: str) -> bool:
        """Record `event_id`; True if it was not recorded before, False if it was."""
        ...

    def discard(self, event_id: str) -> None:
        """Forget `event_id` (its handler failed), so a redelivery is handled again."""
        ...


class InMemoryEventStore:
    """The default `EventStore`: the `maxsize` most recently seen ids of this process, thread-safe.

    When full, the id seen least recently is forgotten; size it above the number of events you
    receive within the service's redelivery window.

    Example:
        >>> store = InMemoryEventStore(maxsize=2)
        >>> store.add_if_new("evt_1"), store.add_if_new("evt_1")
        (True, False)
        >>> store.add_if_new("evt_2"), store.add_if_new("evt_3"), "evt_1" in store
        (True, True, False)
    """

    def __init__(self, maxsize: int = _DEFAULT_MAXSIZE) -> None:
        # The type is checked at run time too: a float or a bool here is a bug, not a size.
        checked: object = maxsize
        if type(checked) is not int or maxsize < 1:
            raise ValueError(f"maxsize must be a positive int, got {maxsize!r}")
        self.maxsize = maxsize
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def add_if_new(self, event_id: str) -> bool:
        """Record `event_id`; True if it was not among the ids remembered."""
        with self._lock:
            if event_id in self._ids:
                self._ids.move_to_end(event_id)  # redelivered: keep it remembered longest
                return False
            self._ids[event_id] = None
            if len(self._ids) > self.maxsize:
                self._ids.popitem(last=False)
            return True

    def discard(self, event_id: str) -> None:
        """Forget `event_id`, if remembered."""
        with self._lock:
            self._ids.pop(event_id, None)

    def __contains__(self, event_id: object) -> bool:
        with self._lock:
            return event_id in self._ids

    def __len__(self) -> int:
        with self._lock:
            return len(self._ids)

    def __repr__(self) -> str:
        return f"InMemoryEventStore(maxsize={self.maxsize}, size={len(self)})"


class WebhookDeduplicator:
    """Make webhook handling idempotent on ``eventId``.

    Args:
        store: where handled ids live; by default an `InMemoryEventStore` of `maxsize` ids.
        maxsize: the size of the default store (default 10,000); not allowed with `store`.

    Use `seen` in the request handler, or decorate the function that handles an event with
    `idempotent`, which also releases the id when the function raises.

    Example:
        >>> from byourside import WebhookEvent
        >>> dedupe = WebhookDeduplicator(maxsize=1000)
        >>> event = WebhookEvent.model_validate({"event": "call.completed", "eventId": "evt_1",
        ...     "timestamp": "2026-11-25T14:00:05Z", "callId": "call_1", "status": "completed"})
        >>> dedupe.seen(event), dedupe.seen(event)
        (False, True)
        >>> @dedupe.idempotent
        ... def handle(event: WebhookEvent) -> str:
        ...     return f"handled {event.call_id}"
        >>> dedupe.forget(event)
        >>> handle(event), handle(event)
        ('handled call_1', None)
    """

    def __init__(self, store: EventStore | None = None, *, maxsize: int | None = None) -> None:
        if store is not None and maxsize is not None:
            raise TypeError("maxsize sizes the default in-memory store; size your own store yourself")
        if store is None:
            store = InMemoryEventStore(_DEFAULT_MAXSIZE if maxsize is None else maxsize)
        self.store: EventStore = store

    def seen(self, event: WebhookEvent | str) -> bool:
        """True if this event (or event id) was already recorded; otherwise record it and say False.

        Claiming and checking are one atomic step, so two concurrent deliveries of one event cannot
        both get False. If handling then fails, call `forget` so the redelivery is handled.
        """
        return not self.store.add_if_new(_event_id(event))

    def forget(self, event: WebhookEvent | str) -> None:
        """Release an event recorded by `seen`, so its redelivery is handled again."""
        self.store.discard(_event_id(event))

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

        A redelivery returns None without calling the handler. If the handler raises, the id is
        released and the exception propagates, so the service's next delivery runs it again.
        Works on ``async def`` handlers too (the claim is taken when the coroutine runs).
        """
        if inspect.iscoroutinefunction(handler):
            async_handler: Callable[Concatenate[EventT, P], Awaitable[Any]] = handler

            @functools.wraps(handler)
            async def run_once_async(event: EventT, /, *args: P.args, **kwargs: P.kwargs) -> Any:
                if self.seen(event):
                    return None
                try:
                    return await async_handler(event, *args, **kwargs)
                except BaseException:
                    self.forget(event)
                    raise

            return run_once_async

        @functools.wraps(handler)
        def run_once(event: EventT, /, *args: P.args, **kwargs: P.kwargs) -> Any:
            if self.seen(event):
                return None
            try:
                return handler(event, *args, **kwargs)
            except BaseException:
                self.forget(event)
                raise

        return run_once

    def __repr__(self) -> str:
        return f"WebhookDeduplicator(store={self.store!r})"


def _event_id(event: WebhookEvent | str) -> str:
    if isinstance(event, str):
        return event
    if isinstance(event, WebhookEvent):
        return event.event_id
    raise TypeError(f"expected a WebhookEvent or an event id str, got {type(event).__name__}")
