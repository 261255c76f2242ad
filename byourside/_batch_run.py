"""`Client.place_calls`: many calls, a few at a time, paced, resumable, never dialling anyone twice.

How one batch runs:

* Every item is checked before anything is sent (`as_batch_item`, the fields), and the journal is
  opened and checked against the items (`byourside._journal`).
* Up to ``concurrency`` workers (threads) take the items in order. Each item is one job: place the
  call, then poll it to its end. Every request waits its turn at the shared `Pacer`, which pauses
  all workers when the service says ``rate_limited``.
* Before each placement is sent, its intent is in the journal, on disk; its call id follows.
  Items the journal shows placed are never sent again: their calls are polled instead. Items whose
  placement may have happened are never sent again automatically: an unknown outcome is matched
  against ``list_calls`` (same number and objective, no other item's call), and otherwise reported
  ``unknown``.
* ``over_minute_cap`` stops all placing: the items not yet sent are reported ``not_placed``, and
  the calls already placed are still followed to their end.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from pydantic import BaseModel

from byourside._batch import BatchItem, BatchProgress, BatchResult, BatchStatus, as_batch_item
from byourside._extraction import typed_call
from byourside._journal import Journal, item_key
from byourside._models import Call, FieldSpec
from byourside._pacing import Pacer
from byourside._replies import check_retries
from byourside._validation import FieldsArg, fields_to_wire, place_call_body
from byourside.errors import (
    CODE_MESSAGES,
    ByoursideError,
    ExtractionError,
    InvalidRequestError,
    WaitTimeoutError,
)

if TYPE_CHECKING:
    from byourside.client import Client

__all__ = ["LIST_LIMIT", "run_batch"]

LIST_LIMIT = 100
"""How many recent calls an unknown placement is looked for among (the service's most)."""


def run_batch(
    client: Client,
    items: Iterable[object],
    *,
    fields: type[Any] | Sequence[FieldSpec | Mapping[str, Any]] | None = None,
    concurrency: int = 4,
    wait: bool = True,
    journal: str | os.PathLike[str] | None = None,
    retry_unknown: bool = False,
    ordered: bool = False,
    timeout: float = 180,
    interval: float = 3,
    max_retries: int | None = None,
    on_progress: Callable[[BatchProgress], object] | None = None,
) -> Generator[BatchResult[Any], None, None]:
    """Check everything, open the journal, and return the iterator of results (see the module)."""
    batch = [as_batch_item(index, item) for index, item in enumerate(items)]
    _check_options(concurrency, timeout, interval)
    model = _model_of(fields)
    wire_fields = None
    if fields is not None:
        wire_fields = [FieldSpec.model_validate(f) for f in fields_to_wire(model or cast(FieldsArg, fields))]
    keys = [item_key(item.placement()) for item in batch]
    book = Journal.in_memory(keys) if journal is None else Journal.open(journal, keys)
    stop = threading.Event()
    sleep = None if client._sleep is time.sleep else client._sleep  # real time: stoppable waits
    run = _Run(
        client=client,
        items=batch,
        journal=book,
        pacer=Pacer(
            sleep=sleep,
            clock=client._clock,
            stop=stop,
            timing=client._retry_timing,
            max_retries=client.max_retries if max_retries is None else check_retries(max_retries),
        ),
        stop=stop,
        wire_fields=wire_fields,
        model=model,
        wait=wait,
        timeout=float(timeout),
        interval=float(interval),
        retry_unknown=retry_unknown,
        progress=_Tracker(len(batch), on_progress, client._clock),
    )
    return _results(run, concurrency, ordered)


def _check_options(concurrency: object, timeout: object, interval: object) -> None:
    # Typed, but untyped programs pass anything; a wrong value must not start a batch.
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ValueError(f"concurrency must be a whole number >= 1, got {concurrency!r}")
    for name, seconds in (("timeout", timeout), ("interval", interval)):
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds >= 0:
            raise ValueError(f"{name} must be seconds >= 0, got {seconds!r}")


def _model_of(fields: object) -> type[BaseModel] | None:
    if not isinstance(fields, type):
        return None
    if issubclass(fields, BaseModel):
        return fields
    raise InvalidRequestError(
        f"fields must be a Pydantic model class or a list of fields, got the class {fields.__name__}",
        0,
        "field_name_required",
    )


def _results(run: _Run, concurrency: int, ordered: bool) -> Generator[BatchResult[Any], None, None]:
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="byourside-batch")
    try:
        for index, phase in enumerate(run.journal.phases()):
            if phase == "placed":
                run.progress.placed(index)
        pending = deque(range(len(run.items)))
        running: dict[Future[BatchResult[Any]], int] = {}
        held: dict[int, BatchResult[Any]] = {}
        next_index = 0
        while pending or running:
            while pending and len(running) < concurrency:
                index = pending.popleft()
                running[pool.submit(run.process, index)] = index
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                del running[future]
            # A worker raises only on a bug or a failed journal write: that ends the batch.
            for result in sorted((future.result() for future in finished), key=lambda r: r.index):
                run.progress.finished(result)
                if not ordered:
                    yield result
                    continue
                held[result.index] = result
                while next_index in held:
                    yield held.pop(next_index)
                    next_index += 1
    finally:
        # Reached when done, on an error, or when the caller stops iterating: nothing new is
        # placed after this, calls in flight finish their request and are journaled.
        run.stop.set()
        pool.shutdown(wait=True, cancel_futures=True)
        run.journal.close()


class _Tracker:
    """The counts behind `BatchProgress`, updated from every worker, reported one at a time."""

    def __init__(
        self, total: int, report: Callable[[BatchProgress], object] | None, clock: Callable[[], float]
    ) -> None:
        self._total = total
        self._report = report
        self._clock = clock
        self._started = clock()
        self._lock = threading.Lock()
        self._counted: set[int] = set()
        self._waiting = 0
        self._done = 0
        self._errors = 0
        self._by_status: dict[str, int] = {}

    def placed(self, index: int) -> None:
        with self._lock:
            if index not in self._counted:
                self._counted.add(index)
                self._waiting += 1
                self._publish()

    def finished(self, result: BatchResult[Any]) -> None:
        with self._lock:
            if result.index in self._counted:
                self._waiting -= 1
            self._done += 1
            self._errors += result.error is not None
            self._by_status[result.status] = self._by_status.get(result.status, 0) + 1
            self._publish()

    def _publish(self) -> None:
        if self._report is not None:
            snapshot = BatchProgress(
                total=self._total,
                placed=len(self._counted),
                waiting=self._waiting,
                done=self._done,
                by_status=dict(self._by_status),
                errors=self._errors,
                elapsed=self._clock() - self._started,
            )
            self._report(snapshot)


class _Halted(Exception):
    """The batch stopped (minutes cap, or the caller stopped iterating) before this placement."""


@dataclass
class _Run:
    """One batch: what every worker shares, and what a worker does with one item."""

    client: Client
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
    progress: _Tracker
    cap_error: ByoursideError | None = None
    resolving: threading.Lock = field(default_factory=threading.Lock)

    def process(self, index: int) -> BatchResult[Any]:
        """Everything one item needs: place it, follow its call, or resolve an unknown placement."""
        state = self.journal.state(index)
        if state.call_id is not None:
            return self.follow(index, state.call_id, resumed=True, adopted=state.adopted)
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
            return self.resolve(index, error, may_retry=self.retry_unknown)
        return self.place(index)

    def result(self, index: int, status: BatchStatus, **details: Any) -> BatchResult[Any]:
        return BatchResult(index=index, item=self.items[index], status=status, **details)

    # -- placing ---------------------------------------------------------------------------

    def place(self, index: int) -> BatchResult[Any]:
        item = self.items[index]
        arguments: dict[str, Any] = {**item.placement(), "fields": self.wire_fields}
        try:
            place_call_body(**arguments)  # the client's checks, before the journal hears of it
        except ByoursideError as refused:
            return self.result(index, "error", error=refused)

        def attempt() -> str:
            if self.stop.is_set() or self.cap_error is not None:
                raise _Halted
            self.journal.intent(index)
            try:
                placed = self.client.place_call(**arguments, max_retries=0)
            except ByoursideError as error:
                self.journal.failed(index, error)
                raise
            self.journal.placed(index, placed.call_id)
            return placed.call_id

        try:
            call_id = self.pacer.send(attempt, places_call=True)
        except _Halted:
            return self.result(index, "not_placed", error=self.cap_error)
        except ByoursideError as error:
            if error.code == "over_minute_cap":
                self.cap_error = self.cap_error or error
                return self.result(index, "not_placed", error=error)
            if error.may_have_placed:
                return self.resolve(index, error, may_retry=False)
            return self.result(index, "error", error=error)
        self.progress.placed(index)
        return self.follow(index, call_id)

    # -- following a placed call --------------------------------------------------------------

    def follow(
        self, index: int, call_id: str, *, resumed: bool = False, adopted: bool = False, note: str = ""
    ) -> BatchResult[Any]:
        """Poll the call to its end (with ``wait``), sharing the pacer; else report it placed."""
        placed = {"call_id": call_id, "resumed": resumed, "adopted": adopted, "note": note or None}
        if not self.wait:
            return self.result(index, "placed", **placed)
        client, clock = self.client, self.client._clock
        deadline = clock() + self.timeout
        while True:
            if self.stop.is_set():
                return self.result(index, "placed", **placed)
            try:
                call = self.pacer.send(lambda: client.get_call(call_id, max_retries=0), places_call=False)
            except ByoursideError as error:
                return self.result(index, "placed", error=error, **placed)
            if call.is_terminal:
                return self.ended(index, call, placed)
            if clock() + self.interval > deadline:
                timed_out = WaitTimeoutError(
                    f"{CODE_MESSAGES['timeout']}: call {call_id!r} had not ended after {self.timeout} s "
                    f"(last status seen: {call.status})",
                    0,
                    "timeout",
                )
                return self.result(index, "placed", error=timed_out, **placed)
            self.pacer.sleep(self.interval)

    def ended(self, index: int, call: Call, placed: dict[str, Any]) -> BatchResult[Any]:
        status = cast(BatchStatus, call.status)  # terminal statuses are all BatchStatus values
        if self.model is None:
            return self.result(index, status, call=call, **placed)
        try:
            typed = typed_call(call, self.model)
        except ExtractionError as error:
            return self.result(index, status, error=error, **placed)
        return self.result(index, status, call=typed, **placed)

    # -- unknown placements -------------------------------------------------------------------

    def resolve(self, index: int, error: ByoursideError, *, may_retry: bool) -> BatchResult[Any]:
        """Look for the call an unknown placement may have made; adopt it, or report unknown.

        With `may_retry` (``retry_unknown``, for what an earlier run left unknown) an item with no
        matching call at all is placed again.
        """
        item = self.items[index]
        with self.resolving:  # two items must not adopt the same call
            try:
                recent = self.pacer.send(
                    lambda: self.client.list_calls(LIST_LIMIT, max_retries=0), places_call=False
                )
            except ByoursideError as failed:
                note = f"list_calls failed ({failed.code}): look for the call before placing it again"
                return self.result(index, "unknown", error=error, note=note)
            claimed = self.journal.claimed_call_ids()
            matches = [
                call.call_id
                for call in recent
                if call.to == item.to and call.objective == item.objective and call.call_id not in claimed
            ]
            # A twin item (same number and objective) whose own placement is unsettled could be
            # the owner of any match: then no match is provably this item's.
            twins = [
                other
                for other, twin in enumerate(self.items)
                if other != index
                and (twin.to, twin.objective) == (item.to, item.objective)
                and self.journal.state(other).phase == "unknown"
            ]
            adopt = len(matches) == 1 and not twins
            if adopt:
                self.journal.adopted(index, matches[0])
        if adopt:
            self.progress.placed(index)
            note = f"adopted call {matches[0]}, found with list_calls (same number and objective)"
            return self.follow(index, matches[0], adopted=True, note=note)
        if not matches and may_retry:
            return self.place(index)
        if matches:
            note = (
                f"list_calls shows {len(matches)} call(s) to this number with this objective that no "
                "other item claims"
                + (f", and item(s) {twins} to them are unsettled too" if twins else "")
                + ": look at them before placing again"
            )
        else:
            note = (
                f"no matching call among the {LIST_LIMIT} most recent; if it was not placed, run again "
                "with retry_unknown=True to place it"
            )
        return self.result(index, "unknown", error=error, note=note)
