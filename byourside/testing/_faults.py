"""Faults a test injects into the fake server's next requests of a route.

``server.inject(route, fault, count=1)`` makes the next ``count`` authenticated requests of
``route`` (``"post"``: place a call; ``"get"``: get one call; ``"list"``: list calls) fail this
way, in the order injected. What each fault does, and whether a placement was stored:

======================  =====================================================  ==================
fault                   the reply                                              POST stores a call
======================  =====================================================  ==================
``rate_limited``        429 ``{"error": "rate_limited"}``, ``Retry-After``      no
``over_minute_cap``     429 ``{"error": "over_minute_cap"}``                   no
``placement_failed``    502 ``{"error": "placement_failed"}`` (POST only)       no
``store_error``         503 ``{"error": "store_error"}``, ``Retry-After``       no
``html_502``            502 with a proxy's HTML error page (``text/html``)     no
``truncated_body``      the normal reply, its JSON cut in half (the            yes
                        ``Content-Length`` matches the cut body)
``slow``                the normal reply after ``delay`` real seconds          yes
``drop``                the connection closes before any reply                 no
``drop_after_store``    the call is stored, then the connection closes         yes
                        before any reply (POST only)
======================  =====================================================  ==================

``retry_after`` (seconds) sets the ``Retry-After`` header of ``rate_limited`` and
``store_error`` (None leaves the header out); ``delay`` sets how long ``slow`` waits.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import Literal, get_args

__all__ = ["Fault", "FaultQueue", "InjectedFault", "Route"]

Route = Literal["post", "get", "list"]
"""A route of the Agent API: place a call, get one call, list calls."""

Fault = Literal[
    "rate_limited",
    "over_minute_cap",
    "placement_failed",
    "store_error",
    "html_502",
    "truncated_body",
    "slow",
    "drop",
    "drop_after_store",
]
"""A way the fake server can fail a request; see the table in this module's docstring."""

_POST_ONLY: frozenset[str] = frozenset({"placement_failed", "drop_after_store"})


@dataclass(frozen=True)
class InjectedFault:
    """One injected fault and its settings."""

    fault: Fault
    retry_after: int | None = 1
    delay: float = 1.0


class FaultQueue:
    """The faults waiting for each route, consumed one per request."""

    def __init__(self) -> None:
        self._pending: dict[str, deque[InjectedFault]] = {route: deque() for route in get_args(Route)}
        self._lock = threading.Lock()

    def inject(
        self, route: Route, fault: Fault, count: int = 1, *, retry_after: int | None = 1, delay: float = 1.0
    ) -> None:
        """Queue ``fault`` for the next ``count`` requests of ``route``."""
        if route not in self._pending:
            raise ValueError(f"unknown route {route!r}; expected one of {sorted(self._pending)}")
        if fault not in get_args(Fault):
            raise ValueError(f"unknown fault {fault!r}; expected one of {list(get_args(Fault))}")
        if fault in _POST_ONLY and route != "post":
            raise ValueError(f"{fault!r} only applies to route 'post'")
        if count < 1:
            raise ValueError("count must be at least 1")
        if delay < 0:
            raise ValueError("delay must not be negative")
        with self._lock:
            self._pending[route].extend([InjectedFault(fault, retry_after, delay)] * count)

    def take(self, route: Route) -> InjectedFault | None:
        """The fault for this request of ``route``, if one is queued."""
        with self._lock:
            pending = self._pending[route]
            return pending.popleft() if pending else None

    def pending(self, route: Route) -> int:
        """How many faults are still queued for ``route``."""
        with self._lock:
            return len(self._pending[route])

    def clear(self) -> None:
        """Forget every queued fault."""
        with self._lock:
            for pending in self._pending.values():
                pending.clear()
