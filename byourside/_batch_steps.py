"""What a batch's bookkeeping asks its driver to do: the effects of the batch's flows.

The batch's decisions (`byourside._batch_run._Run`, `byourside._batch_resolve`, the `Pacer`) are
flows (`byourside._flows`): they journal, pace, adopt and report without doing any I/O, and yield
one of these when they need a request sent or time to pass. `Client.place_calls` performs them on
its worker threads (`BlockingSteps`), `AsyncClient.place_calls` in tasks (awaiting, in
`byourside._async_batch`); nothing else differs between the two.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from byourside._core import get_call_request
from byourside._flows import Flow, drive_sync
from byourside._models import PlacedCall

if TYPE_CHECKING:
    from byourside._pacing import Pacer
    from byourside.client import Client

__all__ = [
    "BatchEffect",
    "BatchFlow",
    "BlockingSteps",
    "Exclusive",
    "ListRecent",
    "Pause",
    "Place",
    "Poll",
    "at_once",
]

T = TypeVar("T")


@dataclass(frozen=True)
class Pause:
    """Wait `seconds`, or less if the batch is stopped meanwhile."""

    seconds: float


@dataclass(frozen=True)
class Place:
    """Send one placement (the client's retries off: the pacer retries) and return `PlacedCall`.

    `settle` is called with the call a placement in flight made (or None) when the task
    sending it is cancelled: an async batch journals the call before `CancelledError` goes on.
    """

    arguments: dict[str, Any]
    settle: Callable[[PlacedCall | None], None]


@dataclass(frozen=True)
class Poll:
    """Read call `call_id` once (no retries), no read lasting past `deadline` (a clock reading)."""

    call_id: str
    deadline: float


@dataclass(frozen=True)
class ListRecent:
    """List the account's most recent calls (`LIST_LIMIT`, no retries)."""

    limit: int


@dataclass(frozen=True)
class Exclusive:
    """Run `flow` while holding the batch's lock `name` (no other item's flow holds it meanwhile)."""

    name: str
    flow: Flow[Any, Any]


BatchEffect = Pause | Place | Poll | ListRecent | Exclusive
BatchFlow = Flow[BatchEffect, T]


def at_once(request: Callable[[], T]) -> Flow[Any, T]:
    """A flow that runs `request` itself and asks its driver for nothing (for `Pacer.send`)."""
    result = request()
    yield from ()
    return result


class BlockingSteps:
    """Carries out a batch's effects for `Client`, blocking (on the batch's worker threads)."""

    def __init__(self, client: Client, pacer: Pacer) -> None:
        self._client = client
        self._pacer = pacer
        self._locks = {"snapshot": threading.Lock(), "resolving": threading.Lock()}

    def __call__(self, effect: BatchEffect) -> Any:
        client = self._client
        if isinstance(effect, Place):
            return client.place_call(**effect.arguments, max_retries=0)
        if isinstance(effect, Poll):
            return client._send(get_call_request(effect.call_id), max_retries=0, deadline=effect.deadline)
        if isinstance(effect, ListRecent):
            return client.list_calls(effect.limit, max_retries=0)
        if isinstance(effect, Pause):
            return self._pacer.sleep(effect.seconds)
        with self._locks[effect.name]:
            return drive_sync(effect.flow, self)
