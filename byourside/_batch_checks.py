"""What `Client.place_calls` checks before anything is sent: its options, its fields, duplicate items.

Typed programs cannot pass a wrong type, but untyped ones (and values read from a file or a
command line) can: a NaN timeout never ends, an interval of 0 polls in a tight loop. Each check
raises `InvalidRequestError` (status 0) with a code that names the option.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from pydantic import BaseModel

from byourside._batch import BatchItem
from byourside.errors import CODE_MESSAGES, InvalidRequestError

__all__ = ["check_batch_options", "model_of", "refuse_duplicates"]


def _refused(code: str, name: str, value: object) -> InvalidRequestError:
    return InvalidRequestError(f"{CODE_MESSAGES[code]}: got {name}={value!r}", 0, code)


def check_batch_options(*, concurrency: object, timeout: object, interval: object) -> None:
    """Refuse a `concurrency` that is not a whole number >= 1, and a `timeout` or `interval` that is
    not a finite number of seconds > 0 (codes ``invalid_concurrency``, ``invalid_timeout``,
    ``invalid_interval``).

    Example:
        >>> check_batch_options(concurrency=4, timeout=180, interval=3)
        >>> check_batch_options(concurrency=4, timeout=float("nan"), interval=3)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        byourside.errors.InvalidRequestError: invalid_timeout: timeout must be ...: got timeout=nan
    """
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise _refused("invalid_concurrency", "concurrency", concurrency)
    for name, seconds in (("timeout", timeout), ("interval", interval)):
        valid = isinstance(seconds, (int, float)) and not isinstance(seconds, bool)
        if not valid or not (math.isfinite(seconds) and seconds > 0):  # type: ignore[arg-type, operator]
            raise _refused(f"invalid_{name}", name, seconds)


def refuse_duplicates(items: Sequence[BatchItem]) -> None:
    """Refuse two items with the same ``to``, ``objective`` and ``context`` (code
    ``duplicate_batch_item``, naming both indexes): most often a row pasted twice, which would
    dial the same person twice for the same thing.

    Example:
        >>> same = BatchItem(to="+14155550123", objective="Hi")
        >>> other = BatchItem(to="+14155550124", objective="Hi")
        >>> refuse_duplicates([same, other, same])  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        byourside.errors.InvalidRequestError: duplicate_batch_item: Items 0 and 2 ...
    """
    first_of: dict[tuple[str, str, str | None], int] = {}
    for index, item in enumerate(items):
        first = first_of.setdefault((item.to, item.objective, item.context), index)
        if first != index:
            raise InvalidRequestError(
                f"Items {first} and {index} are the same call: the same number, objective and context "
                "(a row given twice?). Nothing was placed. Pass allow_duplicates=True if both calls "
                "are meant.",
                0,
                "duplicate_batch_item",
            )


def model_of(fields: object) -> type[BaseModel] | None:
    """The Pydantic model `fields` names, None for a list of fields; another class is refused."""
    if not isinstance(fields, type):
        return None
    if issubclass(fields, BaseModel):
        return fields
    raise InvalidRequestError(
        f"fields must be a Pydantic model class or a list of fields, got the class {fields.__name__}",
        0,
        "invalid_fields",
    )
