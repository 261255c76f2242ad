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
                                                    for (``wait=False``), or the wait ended first
                                                    (`error` says why: ``timeout``, a read error)
``error``                                           refused: nothing was placed (`error` says why:
                                                    ``invalid_number``, ``destination_blocked``...)
``not_placed``                                      not sent: the minutes cap was reached
                                                    (``over_minute_cap``) before this item's turn
``unknown``                                         the placement may or may not have happened (a
                                                    dropped connection; a run killed mid-request)
                                                    and no single matching call was found: it is
                                                    never placed again unless you ask
==================================================  ==============================================
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
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
    "BatchStatus",
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
        call_id: the call's id, whenever a call is known to exist.
        call: the ended call (a ``Call[Model]`` with ``fields=Model``), when it was waited on and
            read; None otherwise.
        error: why the item has no call, no ended call, or no typed values (an
            `ExtractionError` beside a terminal status: the call ended, its values did not fit
            the model; the untyped call is on the error).
        adopted: the placement's outcome was unknown and this call, found with ``list_calls``
            (same number and objective, claimed by no other item), was taken as its call.
        resumed: the call was placed by an earlier run of the same journal.
        note: a remark on how an unknown placement was (or could not be) resolved.
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

    @property
    def placed(self) -> bool:
        """Whether a call is known to exist for this item."""
        return self.call_id is not None


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


class BatchOptions(TypedDict, total=False):
    """The options of `Client.place_calls`, each optional (defaults in brackets).

    Attributes:
        concurrency: calls in flight at once, each placed then followed by one thread [4].
        wait: poll each call to its terminal status [True]; False reports it ``placed``.
        journal: a JSONL file that makes the batch resumable [None]. Each placement's intent is
            written (and fsync'd) before it is sent, its call id after; running the same items
            with the same journal again places only what was never placed, polls what was, and
            refuses a journal written for other items (``journal_mismatch``).
        retry_unknown: place again the items an earlier run left ``unknown`` when ``list_calls``
            shows no matching call [False]. Unknown outcomes met during this run are only reported.
        ordered: yield results in item order rather than as they finish [False].
        timeout: seconds to wait for each call to end, as `Client.wait_for_call` [180].
        interval: seconds between polls of one call [3].
        max_retries: retries of a failed request other than ``rate_limited`` [the client's]. A
            ``rate_limited`` reply pauses the whole batch as long as the service asks, and the
            request is sent again (up to 50 times in a row).
        on_progress: called with a `BatchProgress` after each change (from the batch's threads,
            one call at a time) [None].
    """

    concurrency: int
    wait: bool
    journal: str | os.PathLike[str] | None
    retry_unknown: bool
    ordered: bool
    timeout: float
    interval: float
    max_retries: int | None
    on_progress: Callable[[BatchProgress], object] | None
