"""`FakeServer`: a faithful local By Your Side Agent API, for tests and demos.

It wires the pieces together: the HTTP layer (`_http`), the API (`_api`), the calls (`_store`),
the clock (`_clock`), the limits (`_limits`), the faults (`_faults`) and webhook delivery
(`_webhooks`). A background thread moves calls along their timelines under real time; with a
`FakeClock`, `FakeClock.advance` does it before returning.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Literal

from byourside._models import Call
from byourside.testing._api import AgentApi, ApiSettings
from byourside.testing._clock import Clock, FakeClock, SystemClock
from byourside.testing._faults import Fault, FaultQueue, Route
from byourside.testing._http import HttpServer, RecordedRequest
from byourside.testing._limits import MinuteLedger, RateLimiter
from byourside.testing._store import CallStore
from byourside.testing._webhooks import WebhookDelivery, WebhookDispatcher

__all__ = ["DEFAULT_API_KEY", "DEFAULT_OWNED_NUMBERS", "DEFAULT_WEBHOOK_SECRET", "FakeServer"]

DEFAULT_API_KEY = "bys_ak_fake_server_key"
"""The key `FakeServer.api_key` gives when none is configured (any ``bys_ak_`` key passes then)."""
DEFAULT_WEBHOOK_SECRET = "whsec_fake_server_secret"  # noqa: S105 - a published test secret
DEFAULT_OWNED_NUMBERS: tuple[str, ...] = ("+14155550100",)
"""The caller ids the fake account owns unless told otherwise."""


class FakeServer:
    """A local By Your Side Agent API on 127.0.0.1: real HTTP, the contract's replies, no phones.

    Calls move ``queued`` -> ``in_progress`` -> a terminal status chosen by the number dialled
    (see `byourside.testing` for the table), over ``ring_seconds`` then ``talk_seconds`` of its
    clock. Signed webhooks go to a call's ``webhookUrl`` when it is on this machine.

    Args:
        api_key: the one key accepted; None (the default) accepts any key starting ``bys_ak_``.
        webhook_secret: the secret webhooks are signed with.
        owned_numbers: the caller ids the account owns (``callerId`` must be one of them).
        ring_seconds: clock seconds from placement until the call is answered (or ends unanswered).
        talk_seconds: clock seconds an answered call lasts.
        instant: calls end as soon as they are placed (ring and talk times of zero).
        clock: the clock the server reads; a `FakeClock` lets a test move time by hand.
        rate_limit: requests allowed per key per ``rate_window`` seconds; None: no limit.
        rate_window: the rate limit's window, in clock seconds.
        minute_cap: outbound minutes per key before ``over_minute_cap``; None: no cap.
        webhook_retry_delays: real seconds before each redelivery of a failed webhook; its length
            is the number of redeliveries.
        webhook_apps: in-process apps to deliver webhooks to, by origin: with
            ``{"https://myapp.test": app}`` (a Flask/WSGI or FastAPI/ASGI app object), an event
            whose ``webhookUrl`` is on ``https://myapp.test`` goes straight into ``app``, no
            socket. Any other loopback URL is delivered over HTTP.
        list_id_key: the key list items carry their id under (the docs show ``callId``).
        port: the port to listen on; 0 picks a free one.

    Example:
        >>> import json, urllib.request
        >>> with FakeServer(instant=True) as server:
        ...     request = urllib.request.Request(
        ...         f"{server.base_url}/v1/agent/calls",
        ...         data=json.dumps({"to": "+14155550123", "objective": "Say hi"}).encode(),
        ...         headers={"Authorization": f"Bearer {server.api_key}"},
        ...     )
        ...     placed = json.load(urllib.request.urlopen(request))
        ...     placed["status"], server.calls[0].status
        ('queued', 'completed')
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        webhook_secret: str = DEFAULT_WEBHOOK_SECRET,
        owned_numbers: Iterable[str] = DEFAULT_OWNED_NUMBERS,
        ring_seconds: float = 0.5,
        talk_seconds: float = 1.5,
        instant: bool = False,
        clock: Clock | None = None,
        rate_limit: int | None = None,
        rate_window: float = 1.0,
        minute_cap: int | None = None,
        webhook_retry_delays: Sequence[float] = (0.1, 0.5, 2.0),
        webhook_apps: Mapping[str, object] | None = None,
        list_id_key: Literal["callId", "id"] = "callId",
        port: int = 0,
    ) -> None:
        if ring_seconds < 0 or talk_seconds < 0:
            raise ValueError("ring_seconds and talk_seconds must not be negative")
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.webhook_secret = webhook_secret
        self._settings = ApiSettings(
            api_key=api_key,
            owned_numbers=frozenset(owned_numbers),
            ring_seconds=0.0 if instant else ring_seconds,
            talk_seconds=0.0 if instant else talk_seconds,
            list_id_key=list_id_key,
        )
        self._store = CallStore()
        self._faults = FaultQueue()
        self._rate_limiter = RateLimiter(rate_limit, rate_window)
        self._ledger = MinuteLedger(minute_cap)
        self._webhooks = WebhookDispatcher(webhook_secret, webhook_retry_delays, apps=webhook_apps)
        self._requests: list[RecordedRequest] = []
        self._requests_lock = threading.Lock()
        self._catch_up_lock = threading.Lock()
        self._wake = threading.Event()
        self._running = False
        self._port = port
        self._http: HttpServer | None = None
        self._threads: list[threading.Thread] = []
        self._api = AgentApi(
            self._settings,
            self.clock,
            self._store,
            self._faults,
            self._rate_limiter,
            self._ledger,
            self._record,
            self._catch_up,
        )

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeServer:
        """Listen on 127.0.0.1 and start the background threads; returns the server."""
        if self._running:
            return self
        self._http = HttpServer(self._api.handle, self._port)
        self._running = True
        self._webhooks.start()
        self.clock.subscribe(self._catch_up)
        self._threads = [
            threading.Thread(target=self._serve, name="byourside-fake-http", daemon=True),
            threading.Thread(target=self._run_lifecycle, name="byourside-fake-lifecycle", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and delivering; calls and records stay readable."""
        if not self._running or self._http is None:
            return
        self._running = False
        self.clock.unsubscribe(self._catch_up)
        self._http.shutdown()
        self._http.close_connections()
        self._http.server_close()
        self._wake.set()
        self._webhooks.stop()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads = []

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.base_url if self._http is not None and self._running else "stopped"
        return f"FakeServer({where})"

    # -- how to reach it ---------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``: pass it as a client's ``base_url``."""
        if self._http is None:
            raise RuntimeError("the FakeServer is not started; use `with FakeServer() as server:`")
        host, port = self._http.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def api_key(self) -> str:
        """A key the server accepts: the configured one, or `DEFAULT_API_KEY`."""
        return self._settings.api_key or DEFAULT_API_KEY

    # -- settings a test may change while it runs ---------------------------------------------

    @property
    def rate_limit(self) -> int | None:
        """Requests allowed per key per window; None for no limit. Settable."""
        return self._rate_limiter.limit

    @rate_limit.setter
    def rate_limit(self, limit: int | None) -> None:
        if limit is not None and limit < 1:
            raise ValueError("rate_limit must be at least 1 (or None for no limit)")
        self._rate_limiter.limit = limit

    @property
    def minute_cap(self) -> int | None:
        """Outbound minutes per key before ``over_minute_cap``; None for no cap. Settable."""
        return self._ledger.cap

    @minute_cap.setter
    def minute_cap(self, cap: int | None) -> None:
        if cap is not None and cap < 0:
            raise ValueError("minute_cap must be non-negative (or None for no cap)")
        self._ledger.cap = cap

    @property
    def ring_seconds(self) -> float:
        """Clock seconds until a call placed from now on is answered. Settable."""
        return self._settings.ring_seconds

    @ring_seconds.setter
    def ring_seconds(self, seconds: float) -> None:
        self._settings.ring_seconds = _non_negative(seconds)

    @property
    def talk_seconds(self) -> float:
        """Clock seconds an answered call placed from now on lasts. Settable."""
        return self._settings.talk_seconds

    @talk_seconds.setter
    def talk_seconds(self, seconds: float) -> None:
        self._settings.talk_seconds = _non_negative(seconds)

    def minutes_used(self, api_key: str | None = None) -> int:
        """The minutes billed to ``api_key`` (default: `api_key`)."""
        return self._ledger.used(api_key or self.api_key)

    def advance(self, seconds: float) -> None:
        """Move the server's `FakeClock` by ``seconds`` (a TypeError under real time)."""
        if not isinstance(self.clock, FakeClock):
            raise TypeError("advance() needs a FakeServer built with clock=FakeClock()")
        self.clock.advance(seconds)

    # -- faults --------------------------------------------------------------------------------

    def inject(
        self, route: Route, fault: Fault, count: int = 1, *, retry_after: int | None = 1, delay: float = 1.0
    ) -> None:
        """Make the next ``count`` authenticated requests of ``route`` fail with ``fault``.

        ``route`` is ``"post"``, ``"get"`` or ``"list"``; the faults, and whether a placement
        is stored under each, are listed in `byourside.testing`. ``retry_after`` (seconds, or None
        for no header) goes with ``rate_limited`` and ``store_error``; ``delay`` (real seconds)
        with ``slow``.
        """
        self._faults.inject(route, fault, count, retry_after=retry_after, delay=delay)

    def pending_faults(self, route: Route) -> int:
        """How many injected faults ``route`` has not met yet."""
        return self._faults.pending(route)

    # -- what happened -------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received, in arrival order, before any check (unauthorized ones too)."""
        with self._requests_lock:
            return list(self._requests)

    @property
    def calls(self) -> list[Call]:
        """Every stored call of every key, oldest first, as the service would report it now."""
        self._catch_up()
        return [Call.model_validate(wire) for wire in self._store.all_wire()]

    def count_calls(self, to: str | None = None) -> int:
        """How many calls are stored (to ``to``, when given)."""
        return sum(1 for call in self._store.all_wire() if to is None or call["to"] == to)

    @property
    def deliveries(self) -> list[WebhookDelivery]:
        """Every webhook delivery attempt so far, in the order made."""
        return self._webhooks.deliveries

    def wait_for_deliveries(self, count: int, timeout: float = 5.0) -> list[WebhookDelivery]:
        """Wait until at least ``count`` delivery attempts are recorded; return them all.

        Raises ``TimeoutError`` when fewer arrive within ``timeout`` real seconds.
        """
        if not self._webhooks.wait_for(count, timeout):
            got = len(self._webhooks.deliveries)
            raise TimeoutError(f"{got} webhook deliveries after {timeout} s, expected {count}")
        return self._webhooks.deliveries

    def wait_for_webhooks(self, timeout: float = 5.0) -> list[WebhookDelivery]:
        """Wait until no webhook is queued, being sent or waiting to be retried; return all attempts.

        Raises ``TimeoutError`` when deliveries are still pending after ``timeout`` real seconds.
        """
        if not self._webhooks.wait_idle(timeout):
            raise TimeoutError(f"webhook deliveries still pending after {timeout} s")
        return self._webhooks.deliveries

    # -- internals -----------------------------------------------------------------------------

    def _serve(self) -> None:
        assert self._http is not None
        # A short poll so stop() (and each test's teardown) returns at once, not after 0.5 s.
        self._http.serve_forever(poll_interval=0.02)

    def _record(self, request: RecordedRequest) -> None:
        with self._requests_lock:
            self._requests.append(request)

    def _catch_up(self) -> None:
        self._advance_calls()
        # A new call may be due before whatever the lifecycle thread is waiting for.
        self._wake.set()

    def _run_lifecycle(self) -> None:
        # Under real time, sleep until the next step of any call is due; a placement or a clock
        # jump wakes it early to look again.
        while self._running:
            self._wake.clear()
            self._advance_calls()
            next_at = self._store.next_step_at()
            timeout = None if next_at is None else self._real_seconds_until(next_at)
            self._wake.wait(timeout)

    def _advance_calls(self) -> None:
        # One caller at a time, so a call's events are queued in the order they happened.
        with self._catch_up_lock:
            for transition in self._store.advance(self.clock.now()):
                self._webhooks.send(transition)

    def _real_seconds_until(self, when: datetime) -> float | None:
        return self.clock.real_seconds_until((when - self.clock.now()).total_seconds())


def _non_negative(seconds: float) -> float:
    if seconds < 0:
        raise ValueError("durations must not be negative")
    return seconds
