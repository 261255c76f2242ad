"""`AsyncClient`: `Client`'s API for asyncio programs (FastAPI services, agent frameworks).

The same constructor, methods, argument names, order and defaults, and return types as `Client`,
each method awaited. Each method runs the flow `Client` runs (`byourside._methods`: the checks,
the requests, the error rules, typed extraction; `byourside._polling.wait_flow`: the wait;
`byourside._retry.RetryPolicy`: the retries; the batch's flows in `byourside._batch_run`), with
an awaiting driver: only the code that blocks or sleeps differs. Requests run on the client's own
bounded thread pool (`byourside._async_transport`); every wait (polling, retry back-off,
Retry-After, batch pacing) is ``asyncio.sleep`` and holds no thread.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar, overload

from pydantic import BaseModel
from typing_extensions import Self, Unpack

from byourside._async_transport import DEFAULT_WORKERS, AsyncTransport, Outcome, check_workers
from byourside._core import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    ApiRequest,
    ClientBase,
    report_cancelled_placement,
)
from byourside._flows import drive_async
from byourside._methods import (
    Effect,
    MethodFlow,
    Send,
    call_flow,
    get_call_flow,
    list_calls_flow,
    place_call_flow,
    wait_for_call_flow,
)
from byourside._models import Call, FieldSpec, PlacedCall
from byourside._options import HeadersArg, TimeoutArg
from byourside._polling import Fetch, Sleep, wait_flow
from byourside._replies import ModelT
from byourside._retry import acall_with_retries
from byourside._transport import Session
from byourside._validation import FieldsArg

if TYPE_CHECKING:
    pass

if TYPE_CHECKING:
    from byourside._async_batch import AsyncBatchRun
    from byourside._batch import BatchItem, BatchOptions, ResultT

__all__ = ["AsyncClient"]

logger = logging.getLogger("byourside")

ExtractedT = TypeVar("ExtractedT", bound=BaseModel)
T = TypeVar("T")


class AsyncClient(ClientBase):
    """A client of the By Your Side Agent API for asyncio: `Client`'s methods, awaited.

    Args:
        api_key, base_url, timeout, max_retries, session: as `Client`.
        max_workers: threads the client may hold at once for requests in flight (default 8); a
            whole number >= 1, else `InvalidRequestError` code ``invalid_max_workers``.
            They are the client's own, never asyncio's default executor. Only a request in flight
            holds one: a call being waited for holds none between its polls.

    Cancelling a method (``task.cancel()``, ``asyncio.timeout``) sends no further request. A GET
    already in a thread finishes there and its reply is dropped. A placement already being sent
    is never hidden: the POST completes, its outcome (with the call id) is logged at WARNING on
    the ``byourside`` logger, and then `CancelledError` propagates.

    Use it with ``async with``, or call `aclose()`.

    Example:
        >>> import asyncio
        >>> from byourside import AsyncClient
        >>> async def main() -> None:
        ...     async with AsyncClient(api_key="bys_ak_example", base_url="http://127.0.0.1:8080") as client:
        ...         print(client)
        >>> asyncio.run(main())
        AsyncClient(base_url='http://127.0.0.1:8080', timeout=(10.0, 60.0), max_retries=2, max_workers=8)
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        session: Session | None = None,
        max_workers: int = DEFAULT_WORKERS,
    ) -> None:
        workers = check_workers(max_workers)  # before the session exists: nothing to leak
        # Narrowed from ClientBase's `Transport | AsyncTransport`: this client only ever has this one.
        self._transport: AsyncTransport = AsyncTransport(  # pyright: ignore[reportIncompatibleVariableOverride]
            self._configure(api_key, base_url, timeout, max_retries, session), workers=workers
        )
        # Time goes through these attributes so tests can drive it (the pytest plugin moves a
        # FakeServer's clock with them) without patching modules.
        self._sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
        self._clock: Callable[[], float] = time.monotonic

    @property
    def max_workers(self) -> int:
        """The most threads this client holds at once for requests in flight."""
        return self._transport.workers

    def __repr__(self) -> str:
        return f"AsyncClient({self._settings_repr()}, max_workers={self.max_workers!r})"

    async def aclose(self) -> None:
        """Wait for the requests in flight, then release the threads and the connection pool."""
        await self._transport.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- the API (each method's checks and reply reading are `Client`'s, in byourside._core) --

    async def place_call(
        self,
        to: str,
        objective: str,
        context: str | None = None,
        fields: FieldsArg | None = None,
        webhook_url: str | None = None,
        caller_id: str | None = None,
        *,
        voice: str | None = None,
        language: str | None = None,
        max_retries: int | None = None,
        timeout: TimeoutArg = None,
        extra_headers: HeadersArg = None,
    ) -> PlacedCall:
        """Place an outbound call; returns its id and first status. See `Client.place_call`.

        Cancelled while the POST is being sent, it waits for the POST's reply, logs the call id
        at WARNING, and then raises `CancelledError`.
        """
        return await self._drive(
            place_call_flow(
                to, objective, context, fields, webhook_url, caller_id, voice=voice, language=language,
                max_retries=max_retries, timeout=timeout, extra_headers=extra_headers,
            )
        )

    @overload
    async def get_call(
        self, call_id: str, *, max_retries: int | None = None,
        timeout: TimeoutArg = None, extra_headers: HeadersArg = None,
    ) -> Call: ...
    @overload
    async def get_call(
        self,
        call_id: str,
        *,
        fields: type[ExtractedT],
        max_retries: int | None = None,
        timeout: TimeoutArg = None,
        extra_headers: HeadersArg = None,
    ) -> Call[ExtractedT]: ...
    async def get_call(
        self,
        call_id: str,
        *,
        fields: type[BaseModel] | None = None,
        max_retries: int | None = None,
        timeout: TimeoutArg = None,
        extra_headers: HeadersArg = None,
    ) -> Call[Any]:
        """One call by id; with ``fields=Model`` a ``Call[Model]``. See `Client.get_call`."""
        return await self._drive(get_call_flow(
            call_id, fields=fields, max_retries=max_retries, timeout=timeout, extra_headers=extra_headers
        ))

    async def list_calls(
        self, limit: int = 20, *, max_retries: int | None = None,
        timeout: TimeoutArg = None, extra_headers: HeadersArg = None,
    ) -> list[Call]:
        """The most recent calls, at most `limit` (clamped to 1..100). See `Client.list_calls`."""
        return await self._drive(list_calls_flow(
            limit, max_retries=max_retries, timeout=timeout, extra_headers=extra_headers
        ))

    @overload
    async def wait_for_call(
        self,
        call_id: str,
        timeout: float = 180,
        interval: float = 3,
        *,
        on_status: Callable[[Call], object] | None = None,
        request_timeout: TimeoutArg = None,
        extra_headers: HeadersArg = None,
    ) -> Call: ...
    @overload
    async def wait_for_call(
        self,
        call_id: str,
        timeout: float = 180,
        interval: float = 3,
        *,
        fields: type[ExtractedT],
        on_status: Callable[[Call], object] | None = None,
        request_timeout: TimeoutArg = None,
        extra_headers: HeadersArg = None,
    ) -> Call[ExtractedT]: ...
    async def wait_for_call(
        self,
        call_id: str,
        timeout: float = 180,
        interval: float = 3,
        *,
        fields: type[BaseModel] | None = None,
        on_status: Callable[[Call], object] | None = None,
        request_timeout: TimeoutArg = None,
        extra_headers: HeadersArg = None,
    ) -> Call[Any]:
        """Poll the call every `interval` seconds until it has ended. See `Client.wait_for_call`.

        Between polls it holds no thread. Cancelled, it sends no further request.
        """
        flow = wait_for_call_flow(
            call_id, timeout, interval, fields=fields, on_status=on_status, min_interval=self._min_interval,
            request_timeout=request_timeout, extra_headers=extra_headers,
        )
        return await self._drive(flow)

    @overload
    async def call(
        self,
        to: str,
        objective: str,
        context: str | None = None,
        *,
        fields: Sequence[FieldSpec | Mapping[str, Any]] | None = None,
        webhook_url: str | None = None,
        caller_id: str | None = None,
        voice: str | None = None,
        language: str | None = None,
        timeout: float = 180,
        interval: float = 3,
        on_status: Callable[[Call], object] | None = None,
        request_timeout: TimeoutArg = None,
        extra_headers: HeadersArg = None,
    ) -> Call: ...
    @overload
    async def call(
        self,
        to: str,
        objective: str,
        context: str | None = None,
        *,
        fields: type[ExtractedT],
        webhook_url: str | None = None,
        caller_id: str | None = None,
        voice: str | None = None,
        language: str | None = None,
        timeout: float = 180,
        interval: float = 3,
        on_status: Callable[[Call], object] | None = None,
        request_timeout: TimeoutArg = None,
        extra_headers: HeadersArg = None,
    ) -> Call[ExtractedT]: ...
    async def call(
        self,
        to: str,
        objective: str,
        context: str | None = None,
        *,
        fields: FieldsArg | None = None,
        webhook_url: str | None = None,
        caller_id: str | None = None,
        voice: str | None = None,
        language: str | None = None,
        timeout: float = 180,
        interval: float = 3,
        on_status: Callable[[Call], object] | None = None,
        request_timeout: TimeoutArg = None,
        extra_headers: HeadersArg = None,
    ) -> Call[Any]:
        """Place a call and wait for it to end. See `Client.call`.

        Cancelled at any point after the call was placed, it logs the call id at WARNING before
        `CancelledError` propagates (the caller never received it).
        """
        flow = call_flow(
            to, objective, context, fields=fields, webhook_url=webhook_url, caller_id=caller_id,
            voice=voice, language=language, timeout=timeout, interval=interval, on_status=on_status,
            min_interval=self._min_interval, request_timeout=request_timeout, extra_headers=extra_headers,
        )
        return await self._drive(flow)

    def place_calls(
        self,
        items: Iterable[BatchItem | Mapping[str, Any] | BaseModel],
        *,
        fields: type[ResultT] | Sequence[FieldSpec | Mapping[str, Any]] | None = None,
        **options: Unpack[BatchOptions],
    ) -> AsyncBatchRun[ResultT]:
        """Place many calls, a few at a time, paced: ``async for`` one `BatchResult` per item.

        `Client.place_calls`, with the same items, options, journal and rules (the same code
        decides), its results an async iterator: ``async for result in client.place_calls(...)``.
        Items and options are checked, and the journal opened, here; nothing is placed before the
        first result is awaited. Stop early with ``stop()`` on it; leaving ``async with`` (or
        `aclose`) abandons it: the placements in flight complete and every placed call not
        reported is logged at WARNING and journaled.
        """
        from byourside._async_batch import run_async_batch  # loaded on first use

        client, rest = self._for_batch(options)
        return run_async_batch(client, items, fields=fields, **rest)

    async def _drive(self, flow: MethodFlow[T]) -> T:
        """Run a method's flow (`byourside._methods`), awaiting each effect it asks for."""
        return await drive_async(flow, self._perform)

    async def _perform(self, effect: Effect) -> Any:
        """Carry out what a method's flow asks for, awaiting: a request, or a wait."""
        if isinstance(effect, Send):
            return await self._send(effect.request, max_retries=effect.max_retries, deadline=effect.deadline)
        request = effect.request

        async def step(wait_step: Fetch | Sleep) -> Call | None:
            if isinstance(wait_step, Fetch):
                return await self._send(request, deadline=wait_step.deadline)
            await self._sleep(wait_step.seconds)
            return None

        steps = wait_flow(
            effect.call_wait(self._clock(), self._retry_timing), on_status=effect.on_status, clock=self._clock
        )
        try:
            return await drive_async(steps, step)
        except asyncio.CancelledError:
            if effect.just_placed:  # the caller never received the id: it must not be lost
                logger.warning("Cancelled while waiting for call %s, which was placed", effect.call_id)
            raise

    # -- one path for every request --------------------------------------------------------

    async def _send(
        self,
        request: ApiRequest[ModelT],
        *,
        max_retries: int | None = None,
        deadline: float | None = None,
        settle: Callable[[PlacedCall | None], object] | None = None,
    ) -> ModelT:
        """Send `request` (retried as the policy allows) and read its reply as its model.

        A placement whose task is cancelled while it is being sent is seen through: what it came
        to is logged (`report_cancelled_placement`) and handed to `settle` (a batch journals it).
        """

        def cancelled(outcome: Outcome) -> None:
            placed = report_cancelled_placement(request, outcome)
            if settle is not None:
                settle(placed)

        async def attempt() -> ModelT:
            reply = await self._transport.request(
                request.method,
                request.path,
                params=request.params,
                body=request.payload,
                if_cancelled=cancelled,
                **self._exchange(request, deadline),
            )
            return request.parse(reply)

        retrying = self._retrying(request, max_retries, deadline)
        return await acall_with_retries(attempt, sleep=self._sleep, **retrying)
