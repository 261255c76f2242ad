"""`AsyncClient.place_calls`: the batch's flows carried out in asyncio tasks.

Everything a batch decides (the checks, the journal, pacing, adoption of unknown placements, what
is reported and what is logged when the results are abandoned) is `byourside._batch_run`'s, the
same flows `Client.place_calls` runs on threads. This module only performs their effects with
``await``: requests through the AsyncClient (its thread pool), pauses with the client's async
sleep (stoppable), the batch's two locks as asyncio locks. Each item is a task; at most
``concurrency`` run at once, and a task waiting holds no thread.

A placement in flight when its task is cancelled is seen through by the AsyncClient: its call is
logged at WARNING and journaled before `CancelledError` goes on.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from byourside._batch import BatchResult, ResultT
from byourside._batch_progress import Reporter
from byourside._batch_run import _Run, prepare_batch
from byourside._batch_steps import BatchEffect, Exclusive, ListRecent, Pause, Place, Poll
from byourside._core import get_call_request, list_calls_request, place_call_request
from byourside._flows import Flow, drive_async

if TYPE_CHECKING:
    from byourside._async_client import AsyncClient

__all__ = ["AsyncBatchRun", "run_async_batch"]

T = TypeVar("T")

_STOP_CHECK_SECONDS = 0.05
"""How often a real-time pause looks at the batch's stop (set from any thread or signal handler)."""


class AsyncBatchRun(AsyncIterator[BatchResult[ResultT]]):
    """The results of `AsyncClient.place_calls`, one per item, as they come (``async for``).

    As `BatchRun`: `stop` places nothing more while every call already placed is still reported;
    abandoning the results (`aclose`, leaving ``async with``, ``break`` and dropping it, the
    consuming task cancelled) waits for the placements in flight and logs (and journals) each
    placed call never reported. Nothing is placed before the first result is awaited.

    Example::

        async with client.place_calls(items, journal="run.jsonl") as results:
            async for result in results:
                print(result.index, result.status, result.call_id)
    """

    def __init__(
        self,
        results: AsyncGenerator[BatchResult[Any], None],
        stop: Callable[[bool], None],
        release: Callable[[], None],
    ) -> None:
        self._results = results
        self._stop = stop
        self._release = release

    def __aiter__(self) -> AsyncBatchRun[ResultT]:
        return self

    async def __anext__(self) -> BatchResult[ResultT]:
        result: BatchResult[ResultT] = await self._results.__anext__()
        return result

    def stop(self, *, wait: bool = True) -> None:
        """Place no new call; the results of everything already placed still come.

        With ``wait=False`` the calls already placed are no longer followed: each is reported
        ``placed`` (with its id). Safe from any thread, any number of times.
        """
        self._stop(wait)

    async def aclose(self) -> None:
        """Abandon the batch: place nothing more, wait for the placements in flight, and log (and
        journal) every placed call whose result was not read. Safe to call more than once."""
        await self._results.aclose()
        self._release()

    async def __aenter__(self) -> AsyncBatchRun[ResultT]:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()


def run_async_batch(client: AsyncClient, items: Iterable[object], **options: Any) -> AsyncBatchRun[Any]:
    """Check everything and open the journal now; the results come as they are awaited."""
    ready = prepare_batch(client, items, blocking_sleep=None, **options)
    run = ready.run
    steps = _AsyncSteps(client, run)
    results = _results(run, steps, ready.concurrency, ready.ordered)
    return AsyncBatchRun(results, run.request_stop, run.journal.close)


async def _results(
    run: _Run, steps: _AsyncSteps, concurrency: int, ordered: bool
) -> AsyncGenerator[BatchResult[Any], None]:
    reporter = Reporter(run, ordered)
    running: set[asyncio.Task[BatchResult[Any]]] = set()
    try:
        pending = deque(range(len(run.items)))
        while pending or running:
            while pending and len(running) < concurrency:
                running.add(asyncio.ensure_future(steps.drive(run.process(pending.popleft()))))
            finished, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            # A task raises only on a bug or a failed journal write: that ends the batch.
            for result in reporter.ready([task.result() for task in finished]):
                yield reporter.delivered(result)
    finally:
        # Done, failed or abandoned: nothing new is placed; the tasks in flight see the stop
        # (pauses end, no poll is sent) and their placements complete and are journaled.
        run.halt.set()
        run.stop.set()
        await _all_done(running)
        reporter.close()


async def _all_done(tasks: set[asyncio.Task[BatchResult[Any]]]) -> None:
    """Wait for `tasks`, even if this task is cancelled meanwhile: a placement is never hidden."""
    while tasks:
        try:
            await asyncio.wait(tasks)
        except asyncio.CancelledError:
            continue
        tasks = {task for task in tasks if not task.done()}


class _AsyncSteps:
    """Carries out a batch's effects for `AsyncClient`, awaiting (in the batch's tasks)."""

    def __init__(self, client: AsyncClient, run: _Run) -> None:
        self._client = client
        self._stop = run.stop
        self._locks = {"snapshot": asyncio.Lock(), "resolving": asyncio.Lock()}

    async def drive(self, flow: Flow[BatchEffect, T]) -> T:
        return await drive_async(flow, self.perform)

    async def perform(self, effect: BatchEffect) -> Any:
        client = self._client
        if isinstance(effect, Place):
            placement = place_call_request(**effect.arguments)
            return await client._send(placement, max_retries=0, settle=effect.settle)
        if isinstance(effect, Poll):
            poll = get_call_request(effect.call_id)
            return await client._send(poll, max_retries=0, deadline=effect.deadline)
        if isinstance(effect, ListRecent):
            return (await client._send(list_calls_request(effect.limit), max_retries=0)).calls
        if isinstance(effect, Pause):
            return await self._pause(effect.seconds)
        assert isinstance(effect, Exclusive)
        async with self._locks[effect.name]:
            return await self.drive(effect.flow)

    async def _pause(self, seconds: float) -> None:
        if seconds <= 0 or self._stop.is_set():
            return
        if self._client._sleep is not asyncio.sleep:
            await self._client._sleep(seconds)  # a test's driven time
            return
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while not self._stop.is_set() and (left := end - loop.time()) > 0:
            await asyncio.sleep(min(left, _STOP_CHECK_SECONDS))
