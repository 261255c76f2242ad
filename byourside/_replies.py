"""The client's argument checks and reply parsing, kept out of `client` so its methods stay thin."""

from __future__ import annotations

import json
import math
from typing import TypeVar

from pydantic import ValidationError

from byourside._base import WireModel
from byourside._transport import Reply, Timeout
from byourside.errors import error_from_reply, invalid_response_error

__all__ = ["check_retries", "check_timeout", "clamp_limit", "parse_reply"]

ModelT = TypeVar("ModelT", bound=WireModel)


def check_retries(max_retries: object) -> int:
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        raise ValueError(f"max_retries must be a whole number >= 0, got {max_retries!r}")
    return max_retries


def _seconds(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if value > 0 and math.isfinite(value) else None


def check_timeout(timeout: object) -> Timeout:
    pair = timeout if isinstance(timeout, tuple) else (timeout, timeout)
    connect, read = (_seconds(pair[0]), _seconds(pair[1])) if len(pair) == 2 else (None, None)
    if connect is None or read is None:
        raise ValueError(f"timeout must be seconds > 0, or a (connect, read) pair of them; got {timeout!r}")
    return (connect, read)


def clamp_limit(limit: object) -> int:
    # 0.1.0's rule: anything that is not a non-negative whole number means the default.
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        return 20
    return max(1, min(100, limit))


def parse_reply(reply: Reply, model: type[ModelT], *, places_call: bool) -> ModelT:
    """The model in a 2xx reply, or the error the reply stands for."""
    if reply.problem is not None:
        # The status was read, the body not whole: a 4xx still proves nothing was placed.
        may_have_placed = places_call and not 400 <= reply.status < 500
        raise invalid_response_error(
            reply.status,
            reply.body,
            reply.headers,
            f"HTTP {reply.status} and {reply.problem}",
            may_have_placed=may_have_placed,
        )
    if not 200 <= reply.status < 300:
        raise error_from_reply(reply.status, reply.body, reply.headers, places_call=places_call)

    def unreadable(problem: str) -> Exception:
        # A 2xx to a placement means it was accepted: the call exists even if the body is garbled.
        return invalid_response_error(
            reply.status, reply.body, reply.headers, problem, may_have_placed=places_call
        )

    try:
        data = json.loads(reply.body)
    except (ValueError, RecursionError) as exc:
        raise unreadable(f"HTTP {reply.status} and the body is not JSON") from exc
    if not isinstance(data, dict):
        raise unreadable(f"HTTP {reply.status} and the body is a JSON {type(data).__name__}, not an object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "the body"
        raise unreadable(f"it is not a {model.__name__} ({where}: {first['msg']})") from exc
