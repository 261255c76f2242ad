"""The asyncio face of the transport: `Transport.request` run on a thread pool the client owns.

Why threads today: the SDK's runtime dependencies are pydantic, requests and tenacity, and none of
them speaks asyncio. Running the same `Transport` on worker threads keeps every rule of the wire
in one place (the reply cap, "was this request sent?", the key kept out of errors, fork safety)
instead of writing them again for an asyncio HTTP library the SDK would then have to depend on.

Only the exchange itself holds a thread: every wait around it (polling intervals, retry back-off,
Retry-After, batch pacing) is ``asyncio.sleep`` in the drivers, so a thousand calls being waited
for need only as many threads as requests in flight at once, at most `AsyncTransport.workers`.
The pool is the client's own and bounded, never asyncio's default executor, which a program
shares with everything else it runs in threads.

The seam is one method: ``await transport.request(method, path, ...) -> Reply``, with the
arguments of `Transport.request`. A native asyncio transport offering that method (and `aclose`)
could replace this class without touching anything above it.

Cancellation, as the drivers rely on it:

* A request still queued for a thread is dropped: it was never sent.
* A GET already running in a thread finishes there; its reply is thrown away and
  `CancelledError` reaches the caller at once.
* A POST already running (a placement) is never abandoned: the cancelled caller waits for its
  outcome, hands it to `request`'s `if_cancelled` callback (which logs, and journals in a batch,
  the call it placed), then `CancelledError` propagates. A placed call is never hidden.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import copy
import logging
import threading
import time
from collections.abc import Callable, Mapping

from byourside._transport import Method, Reply, Timeout, Transport
from byourside.errors import CODE_MESSAGES, InvalidRequestError, NetworkError

__all__ = ["DEFAULT_WORKERS", "AsyncTransport", "Outcome", "check_workers"]

logger = logging.getLogger("byourside")

DEFAULT_WORKERS = 8
"""Threads an `AsyncClient` may hold at once for requests in flight (its ``max_workers``).

Each thread reading a reply competes with the event loop for the interpreter lock: on loopback,
where replies come back at once, the loop's lag grows with the pool (a 10 ms ticker beside 1,000
waits: p99 about 25 ms with 4 threads, 50-100 ms with 8 to 16 on a busy 2-core machine). Against
the real service a request mostly waits for the network, holding no lock; raise ``max_workers``
there when many calls are polled at once (each thread carries about one request per round trip).
"""

Outcome = Reply | NetworkError
"""What a request came to: the reply read, or the network failure."""


def check_workers(workers: object) -> int:
    """`workers` as a pool size, or `InvalidRequestError` code ``invalid_max_workers`` (an
    untyped program may pass anything)."""
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        message = f"{CODE_MESSAGES['invalid_max_workers']}: got {workers!r:.80}"
        raise InvalidRequestError(message, 0, "invalid_max_workers")
    return workers


class AsyncTransport:
    """Sends requests through a `Transport` on a bounded pool of `workers` threads.

    Example:
        >>> import asyncio
        >>> from byourside._transport import Transport
        >>> sync = Transport(api_key="bys_ak_x", base_url="http://127.0.0.1:9", timeout=(1.0, 1.0))
        >>> transport = AsyncTransport(sync, workers=2)
        >>> transport.workers
        2
        >>> asyncio.run(transport.aclose())
    """

    def __init__(self, transport: Transport, *, workers: int = DEFAULT_WORKERS) -> None:
        self.workers = check_workers(workers)
        self._transport = transport
        self._pool = self._new_pool()
        # Touched from worker threads (done callbacks) and the loop, hence the lock.
        self._in_flight: set[concurrent.futures.Future[Reply]] = set()
        self._in_flight_lock = threading.Lock()
        self._pool_owner: AsyncTransport | None = None  # set on a derived transport: whose threads

    def derive(self, *, base_url: str, timeout: Timeout) -> AsyncTransport:
        """`Transport.derive` on this one's threads (and connection pool); its `aclose()` leaves
        both to this transport."""
        derived = copy.copy(self)
        derived._transport = self._transport.derive(base_url=base_url, timeout=timeout)
        derived._pool_owner = self._pool_owner or self
        return derived

    @property
    def base_url(self) -> str:
        """The API's base URL, as the wrapped transport has it."""
        return self._transport.base_url

    @property
    def timeout(self) -> Timeout:
        """The (connect, read) timeout of each request."""
        return self._transport.timeout

    async def request(
        self,
        method: Method,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: bytes | None = None,
        timeout: Timeout | None = None,
        total: float | None = None,
        headers: Mapping[str, str] | None = None,
        if_cancelled: Callable[[Outcome], object] | None = None,
    ) -> Reply:
        """`Transport.request` on one of the pool's threads; the arguments are its own.

        `total` (the exchange's budget) counts from this call: time spent waiting for a free
        thread is taken from it. `if_cancelled` is called, for a POST cancelled while it was being
        sent, with what the POST came to, before `CancelledError` is re-raised (see the module
        docstring).

        Raises:
            NetworkError: as `Transport.request`.
        """
        queued_at = time.monotonic()

        def exchange() -> Reply:
            left = None if total is None else total - (time.monotonic() - queued_at)
            return self._transport.request(
                method, path, params=params, body=body, timeout=timeout, total=left, headers=headers
            )

        running = (self._pool_owner or self)._submit(exchange)
        reply = asyncio.wrap_future(running)
        if method != "POST":
            # Cancelling `reply` cancels `running` when no thread has taken it yet; otherwise the
            # thread finishes the exchange and the reply is dropped.
            return await reply
        try:
            return await asyncio.shield(reply)
        except asyncio.CancelledError:
            if running.cancel():
                raise  # still queued: never sent
            outcome = await _outcome_despite_cancels(reply)
            if if_cancelled is not None:
                if_cancelled(outcome)
            raise

    def _submit(self, exchange: Callable[[], Reply]) -> concurrent.futures.Future[Reply]:
        try:
            running = self._pool.submit(exchange)
        except RuntimeError:  # closed: as a closed Client, a closed AsyncClient still works
            self._pool = self._new_pool()
            running = self._pool.submit(exchange)
        with self._in_flight_lock:
            self._in_flight.add(running)
        running.add_done_callback(self._forget)
        return running

    def _new_pool(self) -> concurrent.futures.ThreadPoolExecutor:
        return concurrent.futures.ThreadPoolExecutor(
            max_workers=self.workers, thread_name_prefix="byourside-async"
        )

    def _forget(self, future: concurrent.futures.Future[Reply]) -> None:
        with self._in_flight_lock:
            self._in_flight.discard(future)

    async def aclose(self) -> None:
        """Close the session (when the client made it) once the requests in threads have ended.

        Requests still queued are dropped. No thread is borrowed to wait: the exchanges running
        are awaited on the event loop. A derived transport's threads are its owner's: left to it.
        """
        if self._pool_owner is not None:
            return
        self._pool.shutdown(wait=False, cancel_futures=True)
        with self._in_flight_lock:
            running = [asyncio.wrap_future(future) for future in self._in_flight]
        if running:
            await asyncio.wait(running)
        self._transport.close()

    def close(self) -> None:
        """Blocking `aclose`: for code with no event loop running (a sync test fixture, atexit)."""
        if self._pool_owner is not None:
            return
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._transport.close()


async def _outcome_despite_cancels(reply: asyncio.Future[Reply]) -> Outcome:
    """What `reply` comes to, waited for even if this task is cancelled again meanwhile."""
    while not reply.done():
        try:
            await asyncio.wait({reply})
        except asyncio.CancelledError:
            logger.warning("Cancelled again while a placement was in flight; waiting for its reply")
    error = reply.exception()
    if error is None:
        return reply.result()
    if isinstance(error, NetworkError):
        return error
    raise error  # a bug in the transport: never a reply to hide
