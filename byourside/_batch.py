"""Batch calling's public types: `BatchItem` in, `BatchResult` out, `BatchProgress` on the way.

`Client.place_calls` (run by `byourside._batch_run`) takes items as `BatchItem` models, dicts or
other Pydantic models with the same keys, and yields one `BatchResult` per item. A result's
`status` says what became of the item:

==================================================  ==============================================
status                                              meaning
==================================================  ==============================================
``completed`` ``no_answer`` ``voicemail``           the call was placed and ended so (waited on)
``declined`` ``failed``
``placed``                                          the call was placed; its end was not waited
                                                    for (``wait=False``, ``stop(wait=False)``), or
                                                    the wait ended first (`error` says why:
                                                    ``timeout``, a read error). Also a placement
                                                    the service accepted (2xx) whose reply could
                                                    not be read: ``call_id`` None, never placed
                                                    again
``error``                                           refused: nothing was placed (`error` says why:
                                                    ``invalid_number``, ``destination_blocked``...)
``not_placed``                                      not sent: the minutes cap was reached
                                                    (``over_minute_cap``) or the batch was stopped
                                                    (``batch_stopped``) before this item's turn
``unknown``                                         the placement may or may not have happened (a
                                                    dropped connection; a run killed mid-request)
                                                    and no call provably made by it was found: it
                                                    is never placed again unless you ask
==================================================  ==============================================

Every error on a result whose call exists carries the call's id (``error.call_id``) and
``may_have_placed=True``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, ClassVar, Generic, Literal, TypedDict

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError
from typing_extensions import TypeVar

from byourside._models import Call
from byourside.errors import ByoursideError, InvalidRequestError

__all__ = [
    "BatchItem",
    "BatchOptions",
    "BatchProgress",
    "BatchResult",
    "BatchRun",
    "BatchStatus",
    "ProgressTracker",
    "ResultT",
    "as_batch_item",
]

BatchStatus = Literal[
    "completed",
    "no_answer",
    "voicemail",
    "declined",
    "failed",
    "placed",
    "error",
    "not_placed",
    "unknown",
]
"""What became of one item of a batch; see the table in `byourside._batch`."""

ResultT = TypeVar("ResultT", bound=BaseModel | dict[str, Any], default=dict[str, Any])
"""What a result's call holds in `extracted`: the wire's dict, or the model passed as ``fields``."""


class BatchItem(BaseModel):
    """One call of a batch: the arguments `Client.place_call` takes, except ``fields``.

    ``fields`` is given once, to `Client.place_calls`, for every item. Dict items use the same
    keys (``webhook_url`` or the wire's ``webhookUrl``; ``caller_id`` or ``callerId``); any other
    key is refused before anything is sent, so a typo cannot go unnoticed.

    Example:
        >>> item = BatchItem(to="+14155550123", objective="Confirm the appointment for Ann")
        >>> item.to, item.context
        ('+14155550123', None)
        >>> BatchItem.model_validate({"to": "+14155550123", "objective": "Hi", "callerId": "+14155550100"})
        ... # doctest: +NORMALIZE_WHITESPACE
        BatchItem(to='+14155550123', objective='Hi', context=None, webhook_url=None,
                  caller_id='+14155550100', voice=None, language=None)
    """

    model_config: ClassVar[ConfigDict] = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    to: str
    """The number to call, E.164 (``+14155550123``)."""
    objective: str
    """What the AI is to achieve on the call."""
    context: str | None = None
    """Background for the AI, never told to the callee."""
    webhook_url: str | None = Field(default=None, validation_alias=AliasChoices("webhook_url", "webhookUrl"))
    """An https:// URL that receives this call's signed events."""
    caller_id: str | None = Field(default=None, validation_alias=AliasChoices("caller_id", "callerId"))
    """A number of the account's to call from (default: the dashboard's)."""
    voice: str | None = None
    """A voice name such as ``Aoede``."""
    language: str | None = None
    """A BCP-47 tag (``en-US``) or ``auto``."""

    def placement(self) -> dict[str, str]:
        """The item's keys that are set: what identifies it in a journal.

        >>> BatchItem(to="+14155550123", objective="Hi").placement()
        {'to': '+14155550123', 'objective': 'Hi'}
        """
        return {name: value for name, value in self.model_dump().items() if value is not None}


def as_batch_item(index: int, item: object) -> BatchItem:
    """`item` (a `BatchItem`, a dict or another Pydantic model) as a `BatchItem`.

    Raises `InvalidRequestError` code ``invalid_batch_item`` naming the item and the key at fault.

    Example:
        >>> as_batch_item(0, {"to": "+14155550123", "objective": "Hi"}).objective
        'Hi'
        >>> as_batch_item(3, {"to": "+14155550123", "objective": "Hi", "name": "Ann"})  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        byourside.errors.InvalidRequestError: invalid_batch_item: Item 3: 'name' is not a placement key ...
    """
    if isinstance(item, BatchItem):
        return item
    if isinstance(item, BaseModel):
        data: Mapping[Any, Any] = item.model_dump()
    elif isinstance(item, Mapping):
        data = item
    else:
        raise _invalid_item(index, f"expected a dict or a model, got {type(item).__name__}")
    try:
        return BatchItem.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        if first["type"] == "extra_forbidden":
            raise _invalid_item(
                index,
                f"{where!r} is not a placement key (to, objective, context, webhook_url, caller_id, "
                "voice, language); keep your own data beside the items and match results by index",
            ) from None
        raise _invalid_item(index, f"{where!r}: {first['msg']}") from None


def _invalid_item(index: int, detail: str) -> InvalidRequestError:
    return InvalidRequestError(f"Item {index}: {detail}", 0, "invalid_batch_item")


@dataclass(frozen=True)
class BatchResult(Generic[ResultT]):
    """What became of one item of a batch.

    Attributes:
        index: the item's position in the items given.
        item: the item, as a `BatchItem`.
        status: see `BatchStatus`: the call's terminal status, or ``placed``, ``error``,
            ``not_placed``, ``unknown``.
        call_id: the call's id, whenever it is known (a call the service accepted with a reply
            that could not be read exists without a known id: status ``placed``, `error` set).
        call: the ended call (a ``Call[Model]`` with ``fields=Model``), when it was waited on and
            read; None otherwise.
        error: why the item has no call, no ended call, or no typed values (an
            `ExtractionError` beside a terminal status: the call ended, its values did not fit
            the model; the untyped call is on the error).
        adopted: the placement's outcome was unknown and this call, found with ``list_calls``
            (same number and objective, claimed by no other item, and not among the calls that
            existed before the placement), was taken as its call.
        resumed: the call was placed by an earlier run of the same journal.
        note: a remark on how an unknown placement was (or could not be) resolved.
        candidates: for an unresolved placement, the ids of the calls ``list_calls`` shows to
            this number with this objective that no other item claims: look at them before
            placing the item again.
    """

    index: int
    item: BatchItem
    status: BatchStatus
    call_id: str | None = None
    call: Call[ResultT] | None = None
    error: ByoursideError | None = None
    adopted: bool = False
    resumed: bool = False
    note: str | None = None
    candidates: tuple[str, ...] = ()

    @property
    def placed(self) -> bool:
        """Whether a call is known to exist for this item (with or without a known id)."""
        return self.call_id is not None or self.status == "placed"


@dataclass(frozen=True)
class BatchProgress:
    """A snapshot of a running batch, passed to ``on_progress`` after each change.

    Attributes:
        total: items in the batch.
        placed: calls known to exist (placed by this run, by an earlier run, or adopted).
        waiting: of those, the ones whose result is not ready yet.
        done: results ready.
        by_status: results ready, by `BatchStatus`.
        errors: results ready that carry an error.
        elapsed: seconds since the batch started.
    """

    total: int
    placed: int
    waiting: int
    done: int
    by_status: Mapping[str, int] = field(default_factory=dict)
    errors: int = 0
    elapsed: float = 0.0


class ProgressTracker:
    """The counts behind `BatchProgress`, updated from every batch worker, reported one at a time."""

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


class BatchOptions(TypedDict, total=False):
    """The options of `Client.place_calls`, each optional (defaults in brackets).

    Attributes:
        concurrency: calls in flight at once, each placed then followed by one thread [4]. A whole
            number >= 1 (``invalid_concurrency``).
        wait: poll each call to its terminal status [True]; False reports it ``placed``.
        journal: a JSONL file that makes the batch resumable [None]. Each placement's intent is
            written (and fsync'd) before it is sent, its call id after; running the same items
            with the same journal again places only what was never placed, polls what was, and
            refuses a journal written for other items (``journal_mismatch``).
        retry_unknown: place again the items an earlier run left ``unknown`` when ``list_calls``
            shows no call that may be theirs [False]. Unknown outcomes met during this run are only
            reported; a placement the service accepted (2xx) is never placed again.
        allow_duplicates: accept two items with the same ``to``, ``objective`` and ``context``
            [False: refused before any call, ``duplicate_batch_item``].
        ordered: yield results in item order rather than as they finish [False].
        timeout: seconds to wait for each call to end, a deadline for its polls, their retries and
            rate-limit pauses, as `Client.wait_for_call` [180]. Finite, > 0 (``invalid_timeout``).
        interval: seconds between polls of one call [3]. Finite, > 0 (``invalid_interval``).
        max_retries: retries of a failed request other than ``rate_limited`` [the client's]. A
            ``rate_limited`` reply pauses the whole batch as long as the service asks, and the
            request is sent again (up to 50 times in a row).
        on_progress: called with a `BatchProgress` after each change (from the batch's threads,
            one call at a time) [None].
        request_timeout: the (connect, read) timeout of each request, in seconds or a pair [the
            client's]; a poll's is still cut to its call's `timeout`. Checked as the client's
            (``invalid_timeout``).
        extra_headers: headers sent with each request [None], checked as a method's
            ``extra_headers`` (``invalid_extra_headers``: never Authorization).
    """

    concurrency: int
    wait: bool
    journal: str | os.PathLike[str] | None
    retry_unknown: bool
    allow_duplicates: bool
    ordered: bool
    timeout: float
    interval: float
    max_retries: int | None
    on_progress: Callable[[BatchProgress], object] | None
    request_timeout: float | tuple[float, float] | None
    extra_headers: Mapping[str, str] | None


class BatchRun(Iterator[BatchResult[ResultT]]):
    """The results of `Client.place_calls`, one per item, as they come; stop it early with `stop`.

    Iterate it (``for result in run``), or use it as a context manager, which closes it on the
    way out. Nothing is placed before the first result is asked for.

    To stop early, call `stop` (from any thread, a signal handler included) and keep iterating:
    no new call is placed, and every item still comes out: each call already placed (followed to
    its end, or reported ``placed`` at once with ``stop(wait=False)``), each unknown placement, and
    the items never placed as ``not_placed`` with error code ``batch_stopped``.

    Abandoning it instead (`close`, ``break`` out of the loop, dropping it) waits for the
    placements in flight, stops waiting for calls, and logs each call placed (or maybe placed)
    but never reported at WARNING on the ``byourside`` logger, and in the journal when there is one.

    Example::

        with client.place_calls(items) as results:
            for result in results:
                if out_of_time():
                    results.stop()  # the loop goes on with what is already placed
                handle(result)
    """

    def __init__(
        self,
        results: Generator[BatchResult[Any], None, None],
        stop: Callable[[bool], None],
        release: Callable[[], None],
    ) -> None:
        self._results = results
        self._stop = stop
        self._release = release

    def __iter__(self) -> BatchRun[ResultT]:
        return self

    def __next__(self) -> BatchResult[ResultT]:
        result: BatchResult[ResultT] = next(self._results)
        return result

    def stop(self, *, wait: bool = True) -> None:
        """Place no new call; the results of everything already placed still come.

        With ``wait=False`` the calls already placed are no longer followed either: each is
        reported ``placed`` (with its id) as soon as its worker sees the stop. Safe to call from
        any thread, any number of times.
        """
        self._stop(wait)

    def close(self) -> None:
        """Abandon the batch: place nothing more, wait for the placements in flight, and log (and
        journal) every placed call whose result was not read. Safe to call more than once."""
        self._results.close()
        self._release()

    def __enter__(self) -> BatchRun[ResultT]:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
