"""Flows: code that decides without doing I/O, run by a driver that does the I/O.

A flow is a generator. It yields an effect (a plain object saying "send this request", "sleep
this long", ...), the driver performs it and sends the outcome back in, or throws the effect's
error in at the ``yield`` that asked; the flow's return value is the result. This is the shape of
h11's protocol object and of tenacity's ``BaseRetrying.iter()``: the decisions exist once, and a
blocking driver and an ``await``-ing driver each only carry them out (`drive_sync` and
`drive_async`).

Example:
    >>> def double_it() -> Flow[str, int]:
    ...     value = yield "read a number"
    ...     return 2 * value
    >>> drive_sync(double_it(), lambda effect: 21)
    42
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator
from typing import Any, Generic, TypeVar

__all__ = ["Flow", "Stepper", "drive_async", "drive_sync"]

E = TypeVar("E")
T = TypeVar("T")

Flow = Generator[E, Any, T]
"""A flow yielding effects of type E and returning T."""


class Stepper(Generic[E, T]):
    """Feeds a flow the outcomes of its effects: what is left to a driver is only to perform
    each effect, with or without ``await``.

    An effect's error is thrown into the flow at the ``yield`` that asked for it, so the flow's
    own error rules see it; the flow raises it again (or another).
    """

    def __init__(self, flow: Flow[E, T]) -> None:
        self._flow = flow
        self._outcome: Any = None
        self._failure: BaseException | None = None
        self.result: T

    def next_effect(self) -> E | None:
        """The next effect to perform, or None once the flow has returned `result`."""
        failure, self._failure = self._failure, None
        try:
            return self._flow.send(self._outcome) if failure is None else self._flow.throw(failure)
        except StopIteration as done:
            self.result = done.value
            return None

    def performed(self, outcome: Any) -> None:
        """The last effect succeeded with `outcome`."""
        self._outcome = outcome

    def failed(self, error: BaseException) -> None:
        """The last effect raised `error` (Ctrl-C and cancellation too)."""
        self._outcome, self._failure = None, error


def drive_sync(flow: Flow[E, T], perform: Callable[[E], Any]) -> T:
    """Run `flow` to its result, carrying out each effect with the blocking `perform`."""
    stepper = Stepper(flow)
    while (effect := stepper.next_effect()) is not None:
        try:
            stepper.performed(perform(effect))
        except BaseException as error:
            stepper.failed(error)
    return stepper.result


async def drive_async(flow: Flow[E, T], perform: Callable[[E], Awaitable[Any]]) -> T:
    """Run `flow` to its result, awaiting each effect's `perform` (cancellation is thrown into
    the flow like any error, so its rules see it, then goes on)."""
    stepper = Stepper(flow)
    while (effect := stepper.next_effect()) is not None:
        try:
            stepper.performed(await perform(effect))
        except BaseException as error:
            stepper.failed(error)
    return stepper.result
