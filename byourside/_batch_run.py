"""`Client.place_calls`: many calls, a few at a time, paced, resumable, never dialling anyone twice.

How one batch runs:

* Every item and option is checked before anything is sent (`as_batch_item`, the fields,
  `byourside._batch_checks`: two items for the same call are refused unless allowed), and the
  journal is opened and checked against the items (`byourside._journal`).
* Before the run's first placement, the ids of the account's recent calls are journaled (a
  snapshot): a call in it existed before any of this run's placements, so it is never adopted.
* Up to ``concurrency`` workers (threads) take the items in order. Each item is one job: place the
  call, then poll it to its end. Every request waits its turn at the shared `Pacer`, which pauses
  all workers when the service says ``rate_limited``.
* Before each placement is sent, its intent is in the journal, on disk; its call id follows.
  Items the journal shows placed are never sent again: their calls are polled instead. Items whose
  placement may have happened are never sent again automatically: an unknown outcome is matched
  against ``list_calls`` (same number and objective, no other item's call, not in the snapshot
  before its intent), and otherwise reported ``unknown`` with the candidates. A placement answered
  2xx with an unreadable body is ``accepted``: the call exists, and it is never sent again.
* ``over_minute_cap`` stops all placing: the items not yet sent are reported ``not_placed``, and
  the calls already placed are still followed to their end; `BatchRun.stop` does the same.
* A consumer that abandons the results (``close()``, ``break``, dropping them) stops everything:
  the placements in flight finish, and every call placed but not reported is logged at WARNING
  (and journaled as ``unreported``). No placed call is ever silent.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from pydantic import BaseModel

from byourside._batch import (
    BatchItem,
    BatchProgress,
    BatchResult,
    BatchRun,
    BatchStatus,
    ProgressTracker,
    as_batch_item,
)
from byourside._batch_checks import check_batch_options, model_of, refuse_duplicates
from byourside._batch_progress import Reporter
from byourside._batch_resolve import LIST_LIMIT, list_recent, resolve_placement, warn_unreported
from byourside._batch_steps import BatchFlow, BlockingSteps, Exclusive, Pause, Place, Poll
from byourside._extraction import typed_call
from byourside._flows import drive_sync
from byourside._journal import Journal, item_key
from byourside._models import Call, FieldSpec, PlacedCall
from byourside._pacing import Pacer
from byourside._replies import check_retries
from byourside._retry import DeadlineExceeded
from byourside._validation import FieldsArg, fields_to_wire, place_call_body
from byourside.errors import (
    CODE_MESSAGES,
    ByoursideError,
    ExtractionError,
    InvalidResponseError,
    WaitTimeoutError,
)

if TYPE_CHECKING:
    from byourside._async_client import AsyncClient
    from byourside.client import Client

__all__ = ["LIST_LIMIT", "Prepared", "prepare_batch", "run_batch"]

logger = logging.getLogger("byourside")


def prepare_batch(
    client: Client | AsyncClient,
    items: Iterable[object],
    *,
    blocking_sleep: Callable[[float], None] | None,
    fields: type[Any] | Sequence[FieldSpec | Mapping[str, Any]] | None = None,
    concurrency: int = 4,
    wait: bool = True,
    journal: str | os.PathLike[str] | None = None,
    retry_unknown: bool = False,
    allow_duplicates: bool = False,
    ordered: bool = False,
    timeout: float = 180,
    interval: float = 3,
    max_retries: int | None = None,
    on_progress: Callable[[BatchProgress], object] | None = None,
) -> Prepared:
    """Check everything and open the journal: the run both clients' drivers carry out."""
    batch = [as_batch_item(index, item) for index, item in enumerate(items)]
    check_batch_options(concurrency=concurrency, timeout=timeout, interval=interval)
    retries = client.max_retries if max_retries is None else check_retries(max_retries)
    if not allow_duplicates:
        refuse_duplicates(batch)
    model = model_of(fields)
    wire_fields = None
    if fields is not None:
        wire_fields = [FieldSpec.model_validate(f) for f in fields_to_wire(model or cast(FieldsArg, fields))]
    keys = [item_key(item.placement()) for item in batch]
    book = Journal.in_memory(keys) if journal is None else Journal.open(journal, keys)
    stop = threading.Event()
    run = _Run(
        clock=client._clock,
        items=batch,
        journal=book,
        pacer=Pacer(
            sleep=blocking_sleep,
            clock=client._clock,
            stop=stop,
            timing=client._retry_timing,
            max_retries=retries,
        ),
        stop=stop,
        wire_fields=wire_fields,
        model=model,
        wait=wait,
        timeout=float(timeout),
        interval=float(interval),
        retry_unknown=retry_unknown,
        progress=ProgressTracker(len(batch), on_progress, client._clock),
    )
    return Prepared(run, concurrency, ordered)


@dataclass(frozen=True)
class Prepared:
    """A checked batch with its journal open, ready for a driver."""

    run: _Run
    concurrency: int
    ordered: bool


def run_batch(client: Client, items: Iterable[object], **options: Any) -> BatchRun[Any]:
    """`Client.place_calls`: the batch's flows run on `concurrency` worker threads (see the module)."""
    # Real time gets waits that a stop ends at once; a test's driven sleep is used as it is.
    sleep = None if client._sleep is time.sleep else client._sleep
    ready = prepare_batch(client, items, blocking_sleep=sleep, **options)
    run = ready.run
    results = _results(run, BlockingSteps(client, run.pacer), ready.concurrency, ready.ordered)
    return BatchRun(results, run.request_stop, run.journal.close)


def _results(
    run: _Run, steps: BlockingSteps, concurrency: int, ordered: bool
) -> Generator[BatchResult[Any], None, None]:
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="byourside-batch")
    reporter = Reporter(run, ordered)
    try:
        pending = deque(range(len(run.items)))
        running: dict[Future[BatchResult[Any]], int] = {}
        while pending or running:
            while pending and len(running) < concurrency:
                index = pending.popleft()
                running[pool.submit(drive_sync, run.process(index), steps)] = index
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                del running[future]
            # A worker raises only on a bug or a failed journal write: that ends the batch.
            for result in reporter.ready([future.result() for future in finished]):
                yield reporter.delivered(result)
    finally:
        # Reached when done, on an error, or when the caller abandons the results: nothing new is
        # placed after this, calls in flight finish their request and are journaled, and every
        # call placed but not reported is logged.
        run.halt.set()
        run.stop.set()
        pool.shutdown(wait=True, cancel_futures=True)
        reporter.close()


class _Halted(Exception):
    """The batch stopped (minutes cap, `BatchRun.stop`, results abandoned) before this placement."""


@dataclass
class _Run:
    """One batch: what every worker shares, and what a worker does with one item."""

    clock: Callable[[], float]
    items: list[BatchItem]
    journal: Journal
    pacer: Pacer
    stop: threading.Event
    wire_fields: list[FieldSpec] | None
    model: type[BaseModel] | None
    wait: bool
    timeout: float
    interval: float
    retry_unknown: bool
    progress: ProgressTracker
    cap_error: ByoursideError | None = None
    halt: threading.Event = field(default_factory=threading.Event)
    """Set once no new call may be placed (`stop` is set too when calls are no longer followed)."""
    snapshot_taken: bool = False
    started: set[int] = field(default_factory=set)

    def request_stop(self, wait: bool) -> None:
        """`BatchRun.stop`: place nothing more; with `wait` False, stop following calls too."""
        self.halt.set()
        if not wait:
            self.stop.set()

    def process(self, index: int) -> BatchFlow[BatchResult[Any]]:
        """Everything one item needs: place it, follow its call, or resolve an unknown placement."""
        self.started.add(index)
        state = self.journal.state(index)
        if state.call_id is not None:
            return (yield from self.follow(index, state.call_id, resumed=True, adopted=state.adopted))
        if state.phase == "accepted":
            accepted = InvalidResponseError(
                f"A previous run of this journal: the service accepted this placement, but its reply "
                f"could not be read ({state.unknown_code}: {state.unknown_message})",
                state.unknown_status,
                state.unknown_code,
                may_have_placed=True,
            )
            return (yield from self.resolve(index, accepted, may_retry=False, resumed=True))
        if state.phase == "unknown":
            code = state.unknown_code
            earlier = (
                f"its placement failed with {code} ({state.unknown_message})"
                if code is not None
                else "it recorded the intent to place this call, then stopped before reading the reply"
            )
            error = ByoursideError(
                f"{CODE_MESSAGES['placement_unknown']}: a previous run of this journal: {earlier}",
                0,
                "placement_unknown",
                may_have_placed=True,
            )
            return (yield from self.resolve(index, error, may_retry=self.retry_unknown))
        return (yield from self.place(index))

    def result(self, index: int, status: BatchStatus, **details: Any) -> BatchResult[Any]:
        return BatchResult(index=index, item=self.items[index], status=status, **details)

    # -- placing ---------------------------------------------------------------------------

    def halted(self) -> ByoursideError | None:
        """Why no new call may be placed (the minutes cap, or the batch was stopped), else None."""
        if self.cap_error is not None:
            return self.cap_error
        if self.halt.is_set():
            return ByoursideError(CODE_MESSAGES["batch_stopped"], 0, "batch_stopped")
        return None

    def take_snapshot(self) -> BatchFlow[None]:
        """Journal the ids of the recent calls once, before this run's first intent."""
        yield Exclusive("snapshot", self._snapshot())

    def _snapshot(self) -> BatchFlow[None]:
        if not self.snapshot_taken:
            try:
                recent = yield from self.pacer.paced(list_recent, places_call=False)
            except ByoursideError as failed:
                logger.warning(
                    "list_calls failed (%s) before the batch placed its first call: an unknown "
                    "placement of this run cannot be matched to a call, only reported",
                    failed.code,
                )
                self.journal.snapshot(None)
            else:
                self.journal.snapshot([call.call_id for call in recent])
            self.snapshot_taken = True

    def place(self, index: int) -> BatchFlow[BatchResult[Any]]:
        item = self.items[index]
        arguments: dict[str, Any] = {**item.placement(), "fields": self.wire_fields}
        try:
            place_call_body(**arguments)  # the client's checks, before the journal hears of it
        except ByoursideError as refused:
            return self.result(index, "error", error=refused)
        halted = self.halted()
        if halted is not None:
            return self.result(index, "not_placed", error=halted)
        yield from self.take_snapshot()

        def settle(placed: PlacedCall | None) -> None:
            # The task sending the placement was cancelled; the placement was seen through.
            if placed is not None:
                self.journal.placed(index, placed.call_id)

        def attempt() -> BatchFlow[str]:
            if self.halt.is_set() or self.cap_error is not None:
                raise _Halted
            self.journal.intent(index)
            try:
                placed: PlacedCall = yield Place(arguments, settle)
            except ByoursideError as error:
                self.journal.failed(index, error)
                raise
            self.journal.placed(index, placed.call_id)
            return placed.call_id

        try:
            call_id = yield from self.pacer.paced(attempt, places_call=True)
        except _Halted:
            return self.result(index, "not_placed", error=self.halted())
        except ByoursideError as error:
            if error.code == "over_minute_cap":
                self.cap_error = self.cap_error or error
                return self.result(index, "not_placed", error=error)
            if error.may_have_placed:
                return (yield from self.resolve(index, error, may_retry=False))
            halted = self.halted()
            if halted is not None and error.code == "rate_limited":  # not waited out after stop()
                return self.result(index, "not_placed", error=halted)
            return self.result(index, "error", error=error)
        self.progress.placed(index)
        return (yield from self.follow(index, call_id))

    # -- following a placed call --------------------------------------------------------------

    def follow(
        self, index: int, call_id: str, *, resumed: bool = False, adopted: bool = False, note: str = ""
    ) -> BatchFlow[BatchResult[Any]]:
        """Poll the call to its end (with ``wait``), sharing the pacer; else report it placed.

        The item's `timeout` is a deadline for everything: polls, their retries, rate-limit
        pauses and each read (cut to the time left).
        """
        placed = {"call_id": call_id, "resumed": resumed, "adopted": adopted, "note": note or None}
        if not self.wait:
            return self.result(index, "placed", **placed)
        clock = self.clock
        deadline = clock() + self.timeout
        last_status = "none"

        def poll() -> BatchFlow[Call]:
            call: Call = yield Poll(call_id, deadline)
            return call

        while True:
            if self.stop.is_set():
                return self.result(index, "placed", **placed)
            try:
                call = yield from self.pacer.paced(poll, places_call=False, deadline=deadline)
            except DeadlineExceeded:
                return self.result(index, "placed", error=self.timed_out(call_id, last_status), **placed)
            except ByoursideError as error:
                if error.code == "network_error" and clock() >= deadline:  # a read cut to the deadline
                    error = self.timed_out(call_id, last_status)
                return self.result(index, "placed", error=_about(error, call_id), **placed)
            if call.is_terminal:
                return self.ended(index, call, placed)
            last_status = call.status
            if clock() + self.interval > deadline:
                return self.result(index, "placed", error=self.timed_out(call_id, last_status), **placed)
            yield Pause(self.interval)

    def timed_out(self, call_id: str, last_status: str) -> WaitTimeoutError:
        return WaitTimeoutError(
            f"{CODE_MESSAGES['timeout']}: call {call_id!r} had not ended after {self.timeout} s "
            f"(last status seen: {last_status})",
            0,
            "timeout",
            may_have_placed=True,
            call_id=call_id,
        )

    def ended(self, index: int, call: Call, placed: dict[str, Any]) -> BatchResult[Any]:
        status = cast(BatchStatus, call.status)  # terminal statuses are all BatchStatus values
        if self.model is None:
            return self.result(index, status, call=call, **placed)
        try:
            typed = typed_call(call, self.model)
        except ExtractionError as error:
            return self.result(index, status, error=_about(error, call.call_id), **placed)
        return self.result(index, status, call=typed, **placed)

    # -- unknown placements, results never read -------------------------------------------

    def resolve(
        self, index: int, error: ByoursideError, *, may_retry: bool, resumed: bool = False
    ) -> BatchFlow[BatchResult[Any]]:
        """Adopt the call an unresolved placement made, or report it (see `resolve_placement`)."""
        return (yield from resolve_placement(self, index, error, may_retry=may_retry, resumed=resumed))

    def warn_unreported(self, reported: set[int]) -> None:
        """Log (and journal) every placed call whose result was never read (see `warn_unreported`)."""
        warn_unreported(self, reported)


def _about(error: ByoursideError, call_id: str) -> ByoursideError:
    """`error`, marked as concerning the placed call `call_id` (so never to be placed again)."""
    error.call_id = call_id
    error.may_have_placed = True
    return error
