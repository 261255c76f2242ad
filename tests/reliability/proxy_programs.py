"""Ordinary programs of the SDK's users, and the ledger of what each was told.

The programs do what the README tells a user to do: place a call (``place_call`` or ``call()``)
and, when the error says ``may_have_placed=False`` (nothing was placed), place it again; keep the
id they are given (a result, or ``error.call_id``); read their calls back; run a batch and stop
reading it early. Some run inside the ``except`` block of an unrelated connection error, as a
program that pages the on-call engineer by phone when a health check fails does.

`Told` keeps what the program learned, for comparison with what the server stored.
"""

from __future__ import annotations

import logging
import re
import socket
import threading
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal

import requests

from byourside import BatchResult, ByoursideError, Call, Client
from tests.async_support import thread_served_by
from tests.reliability.support import API_KEY, assert_secret_free

__all__ = [
    "HEALTH_CHECKS",
    "OBJECTIVE",
    "STOP_HOWS",
    "BatchPlan",
    "Told",
    "Verdict",
    "Warnings",
    "call_each",
    "dead_port",
    "in_except_block",
    "judge",
    "place_each",
    "run_batch",
]

OBJECTIVE = "Confirm the appointment"
WAIT: dict[str, Any] = {"timeout": 6.0, "interval": 2.0}
"""On driven time: a call that never ends times out after three polls, at once."""
PLACE_ATTEMPTS = 3
"""A program places a call again when told nothing was placed, up to this many times in all."""


@dataclass
class Told:
    """What a program was told about its placements and reads."""

    ids: dict[str, set[str]] = field(default_factory=dict)
    """Number -> the call ids the program was given for it."""
    unknown: set[str] = field(default_factory=set)
    """Numbers an error (``may_have_placed=True``, no id) or a result (``unknown``) said may
    have been placed."""
    reads: list[tuple[str, str, str | None]] = field(default_factory=list)
    """(id asked for, id of the call returned, number of the call returned)."""
    codes: Counter[str] = field(default_factory=Counter)
    not_sdk_errors: list[str] = field(default_factory=list)
    """Failures that are not a `ByoursideError` with a code."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def learn(self, number: str, call_id: str) -> None:
        with self.lock:
            self.ids.setdefault(number, set()).add(call_id)

    def read(self, asked: str, call: Call) -> None:
        with self.lock:
            self.reads.append((asked, call.call_id, call.to))

    def error(self, error: BaseException) -> None:
        """Count `error`; keep it aside unless it is a `ByoursideError` with a code."""
        if isinstance(error, ByoursideError) and error.code:
            assert_secret_free(error)
            with self.lock:
                self.codes[error.code + (" (may_have_placed)" if error.may_have_placed else "")] += 1
        else:
            with self.lock:
                self.not_sdk_errors.append(f"{type(error).__name__}: {error}"[:300])

    def reported(self, number: str, error: ByoursideError) -> bool:
        """Whether `error` (on placing `number`) tells of a call that exists or may exist. The
        README's rule is ``may_have_placed``: when it is False nothing was placed, and the program
        places again, whatever else the error carries; when True, the program keeps `call_id`."""
        self.error(error)
        if not error.may_have_placed:
            return False
        if error.call_id is not None:
            self.learn(number, error.call_id)
        else:
            with self.lock:
                self.unknown.add(number)
        return True

    def batch_result(self, result: BatchResult[Any]) -> None:
        number = result.item.to
        may_have_placed = result.error is not None and result.error.may_have_placed
        if result.call_id is not None:
            self.learn(number, result.call_id)
        elif result.status in ("unknown", "placed") or may_have_placed:
            with self.lock:  # a call exists (``placed`` without an id: accepted, id unreadable) or may
                self.unknown.add(number)
        if result.call is not None:
            self.read(result.call_id or "", result.call)
        if result.error is not None:
            self.error(result.error)


# -- the programs ------------------------------------------------------------------------------


def place_as_the_readme_says(number: str, told: Told, place: Callable[[], str]) -> None:
    """`place` (which returns the call's id) until it succeeds or an error says a call may exist;
    an error that says nothing was placed (``may_have_placed=False``) means: place it again."""
    for _ in range(PLACE_ATTEMPTS):
        try:
            call_id = place()
        except ByoursideError as error:
            if told.reported(number, error):
                return
            continue
        told.learn(number, call_id)
        return


def _placed(client: Client, number: str) -> str:
    return client.place_call(number, OBJECTIVE).call_id


def _called(client: Client, number: str) -> str:
    return client.call(number, OBJECTIVE, **WAIT).call_id


def place_each(client: Client, numbers: tuple[str, ...], told: Told, *, reads: bool) -> None:
    """Place a call to each number in turn; then read each call back and wait for it to end."""
    for number in numbers:
        place_as_the_readme_says(number, told, partial(_placed, client, number))
    if not reads:
        return
    for number in numbers:
        for call_id in sorted(told.ids.get(number, ())):
            for read in (client.get_call, lambda c: client.wait_for_call(c, **WAIT)):
                try:
                    told.read(call_id, read(call_id))
                except ByoursideError as error:
                    told.error(error)


def call_each(client: Client, numbers: tuple[str, ...], told: Told) -> None:
    """``client.call()`` for each number in turn (place, and wait for the end)."""
    for number in numbers:
        place_as_the_readme_says(number, told, partial(_called, client, number))


StopHow = Literal["close", "break", "drop", "with", "stop", "stop_nowait"]
STOP_HOWS: tuple[StopHow, ...] = ("close", "break", "drop", "with", "stop", "stop_nowait")


@dataclass(frozen=True)
class BatchPlan:
    """How a program runs its batch, and what it does after `stop_after` results: abandon it
    (``close()``, ``break`` out of a ``for`` over it, drop it, leave its ``with`` block), or
    ``stop()`` it (``stop_nowait``: ``stop(wait=False)``) and read on to the end."""

    concurrency: int
    wait: bool
    ordered: bool
    stop_after: int | None
    stop_how: StopHow

    @property
    def stops(self) -> bool:
        """Stopped the documented way: every call placed must still come out as a result."""
        return self.stop_after is not None and self.stop_how in ("stop", "stop_nowait")


def run_batch(client: Client, numbers: tuple[str, ...], told: Told, plan: BatchPlan) -> None:
    items = [{"to": number, "objective": OBJECTIVE} for number in numbers]
    options: dict[str, Any] = {"concurrency": plan.concurrency, "wait": plan.wait, "ordered": plan.ordered}
    after = plan.stop_after
    if plan.stop_how == "break" and after is not None:
        for taken, result in enumerate(client.place_calls(items, **options, **WAIT), start=1):
            told.batch_result(result)
            if taken >= after:
                break  # the results are dropped as the loop ends
        return
    results = client.place_calls(items, **options, **WAIT)
    if plan.stop_how == "with":
        with results:
            _take(results, told, after)
        return
    if plan.stops:
        for taken, result in enumerate(results, start=1):
            told.batch_result(result)
            if taken == after:
                results.stop(wait=plan.stop_how == "stop")
        return
    _take(results, told, after)
    if plan.stop_how == "close":
        results.close()
    else:
        del results  # abandoned: collected (and so closed) without being told


def _take(results: Iterator[BatchResult[Any]], told: Told, count: int | None) -> None:
    """Read `count` results (all of them when None)."""
    for taken, result in enumerate(results, start=1):
        told.batch_result(result)
        if taken == count:
            return


# -- placements made inside an unrelated except block -------------------------------------------

HEALTH_CHECKS = ("requests", "byourside", "socket", "urllib")
"""How the unrelated check fails: a requests call, another byourside client, a raw socket and
urllib, each to a port where nothing listens."""


def _check_health(kind: str, dead_port: int) -> None:
    url = f"http://127.0.0.1:{dead_port}/health"
    if kind == "requests":
        requests.get(url, timeout=2)
    elif kind == "byourside":
        with Client(API_KEY, url.removesuffix("/health"), max_retries=0) as monitoring:
            monitoring.list_calls()
    elif kind == "socket":
        socket.create_connection(("127.0.0.1", dead_port), timeout=2).close()
    else:
        urllib.request.urlopen(url, timeout=2).close()


def in_except_block(kind: str, dead_port: int, program: Callable[[], None]) -> bool:
    """Run `program` in the ``except`` block of a failed health check; False when the check
    unexpectedly passed (the program then runs outside)."""
    try:
        _check_health(kind, dead_port)
    except (OSError, requests.RequestException, ByoursideError):  # urllib's URLError is an OSError
        program()  # the monitored service is down: page the on-call engineer by phone
        return True
    program()
    return False


def dead_port() -> tuple[socket.socket, int]:
    """A port that refuses connections: bound, never listening (keep the socket open)."""
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.bind(("127.0.0.1", 0))
    return holder, holder.getsockname()[1]


# -- what the server holds against what the program was told ----------------------------------

_IDS = re.compile(r"call_[0-9a-f]+")
_NUMBERS = re.compile(r"\+[0-9]{8,15}")


class Warnings(logging.Handler):
    """WARNING records of the ``byourside`` logger: the call ids and numbers any of them names,
    and each thread's messages (an abandoned batch warns from the thread that abandons it, and
    may name its items by index; an AsyncClient's, from the loop serving that thread)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.named: set[str] = set()
        self.by_thread: dict[int | None, list[str]] = {}
        self.guard = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        with self.guard:
            self.named.update(_IDS.findall(text), _NUMBERS.findall(text))
            # An AsyncClient's batch warns from its event loop's thread: count it for the thread
            # whose blocking call the loop is serving (tests.async_support).
            self.by_thread.setdefault(thread_served_by(record.thread), []).append(text)

    def names(self, what: str) -> bool:
        with self.guard:
            return what in self.named

    def mark(self) -> int:
        """Where this thread's messages stand now (see `since`)."""
        with self.guard:
            return len(self.by_thread.get(threading.get_ident(), []))

    def since(self, mark: int) -> list[str]:
        """This thread's messages after `mark`."""
        with self.guard:
            return self.by_thread.get(threading.get_ident(), [])[mark:]


@dataclass
class Verdict:
    dialled_twice: int = 0
    unreported: int = 0
    misattributed: int = 0
    not_sdk_errors: int = 0
    details: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return bool(self.dialled_twice or self.unreported or self.misattributed or self.not_sdk_errors)


def judge(
    numbers: Sequence[str], stored: Sequence[Call], told: Told, warned: Warnings, said: Sequence[str] = ()
) -> Verdict:
    """Count (a), (b), (c) and the failures that are not a `ByoursideError` with a code.

    A stored call is reported when the program holds its id for its number, or was told its
    placement may have happened, or a WARNING names the call, its number, or (among `said`, the
    run's own warnings) its item.
    """
    verdict = Verdict(not_sdk_errors=len(told.not_sdk_errors), details=list(told.not_sdk_errors))
    owner = {call.call_id: call.to for call in stored}
    for index, person in enumerate(numbers):
        calls = [call for call in stored if call.to == person]
        item = re.compile(rf"\bitem {index}\b")
        warned_of = warned.names(person) or any(item.search(text) for text in said)
        if len(calls) > 1:
            verdict.dialled_twice += 1
            verdict.details.append(f"{person} dialled {len(calls)} times")
        for call in calls:
            known = call.call_id in told.ids.get(person, set()) or warned.names(call.call_id)
            if not known and person not in told.unknown and not warned_of:
                verdict.unreported += 1
                verdict.details.append(f"{call.call_id} to {person} placed, never reported")
    for person, ids in told.ids.items():
        for call_id in ids:
            if owner.get(call_id) != person:
                verdict.misattributed += 1
                verdict.details.append(f"{person} was given {call_id}, the call to {owner.get(call_id)}")
    for asked, returned, to in told.reads:
        if returned != asked or owner.get(asked) != to:
            verdict.misattributed += 1
            verdict.details.append(f"a read of {asked} returned {returned} (to {to})")
    return verdict
