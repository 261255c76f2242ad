"""The polling loop of `Client.wait_for_call`: poll until the call ends, never past the deadline."""

from __future__ import annotations

import logging
from collections.abc import Callable

from byourside._models import Call
from byourside._retry import DeadlineExceeded, RetryTiming, retry_delay
from byourside.errors import CODE_MESSAGES, NetworkError, RateLimitError, WaitTimeoutError

__all__ = ["poll_until_ended"]

logger = logging.getLogger("byourside")


def poll_until_ended(
    fetch: Callable[[float], Call],
    *,
    call_id: str,
    timeout: float,
    interval: float,
    on_status: Callable[[Call], object] | None,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    timing: RetryTiming,
) -> Call:
    """Call ``fetch(deadline)`` every `interval` seconds until the call it returns has ended.

    `fetch` is one read of the call, its retries and read timeouts bounded by `deadline`. A
    ``rate_limited`` reply waits (Retry-After when sent) and polls on. When the next wait would
    pass the deadline, `WaitTimeoutError` is raised at once: no sleep ever ends past it.
    """
    deadline = clock() + timeout
    status: str | None = None

    def timed_out() -> WaitTimeoutError:
        return WaitTimeoutError(
            f"{CODE_MESSAGES['timeout']}: call {call_id!r} had not ended after {timeout} s "
            f"(last status seen: {status or 'none'})",
            0,
            "timeout",
        )

    while True:
        try:
            call = fetch(deadline)
        except DeadlineExceeded as stop:
            raise timed_out() from stop.last_error
        except RateLimitError as limited:
            pause = max(interval, retry_delay(1, limited.retry_after, timing=timing))
            if clock() + pause > deadline:
                raise timed_out() from limited
            logger.info("Rate limited while waiting for %s; polling again in %.2f s", call_id, pause)
            sleep(pause)
            continue
        except NetworkError as error:
            if clock() >= deadline:  # the read timeout was cut to the deadline
                raise timed_out() from error
            raise
        if call.status != status:
            status = call.status
            if on_status is not None:
                on_status(call)
        if call.is_terminal:
            return call
        if clock() + interval > deadline:
            raise timed_out()
        sleep(max(interval, 0.0))
