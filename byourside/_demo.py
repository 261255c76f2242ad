"""``python -m byourside demo``: the seed's quick start against a local FakeServer, in seconds.

It needs no key and no network: a `byourside.testing.FakeServer` starts on 127.0.0.1 in this
process, a `Client` places the 0.1.0 README's appointment call on it, waits for the call to end
(showing its status and the time elapsed on one line) and prints what came back, read as the
typed `DemoAppointment` model (typed extraction).
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from pydantic import BaseModel

from byourside._models import Call
from byourside.client import Client
from byourside.errors import ByoursideError

__all__ = [
    "DEMO_FIELDS",
    "DEMO_NUMBER",
    "DEMO_OBJECTIVE",
    "DemoAppointment",
    "demo_call",
    "demo_result_lines",
    "run_demo",
]

DEMO_NUMBER = "+14155550123"
DEMO_OBJECTIVE = "Confirm the appointment for tomorrow at 2pm and ask if they need to reschedule."
DEMO_FIELDS = [{"name": "confirmed", "type": "boolean"}, {"name": "new_time", "type": "string"}]
"""The seed's quick-start fields, as 0.1.0 wrote them; `DemoAppointment` derives exactly these."""


class DemoAppointment(BaseModel):
    """What the demo call extracts, declared as a model: the seed's two fields."""

    confirmed: bool | None = None  # None when the call did not obtain it (voicemail, say)
    new_time: str | None = None


class _Progress:
    """One status line: rewritten in place on a terminal, one line per change otherwise."""

    def __init__(self, out: TextIO, in_place: bool) -> None:
        self.out = out
        self.in_place = in_place
        self.started = time.monotonic()
        self.shown = False

    def show(self, call: Call) -> None:
        line = f"  status: {call.status:<12} elapsed: {time.monotonic() - self.started:4.1f} s"
        if self.in_place:
            self.out.write(f"\r{line}")
        else:
            self.out.write(f"{line}\n")
        self.out.flush()
        self.shown = True

    def end(self) -> None:
        if self.in_place and self.shown:
            self.out.write("\n")
            self.shown = False


def demo_call(
    out: TextIO,
    *,
    in_place: bool | None = None,
    to: str = DEMO_NUMBER,
    timeout: float = 30,
    ring_seconds: float = 0.5,
    talk_seconds: float = 1.5,
    poll_interval: float = 0.25,
) -> Call[DemoAppointment]:
    """Place the quick-start call on an in-process FakeServer and wait for it; the story on `out`.

    Raises what the client raises (a `ByoursideError`): the caller reports it as every command does.
    """
    from byourside.testing import FakeServer

    progress = _Progress(out, out.isatty() if in_place is None else in_place)
    try:
        with (
            FakeServer(ring_seconds=ring_seconds, talk_seconds=talk_seconds) as server,
            Client(api_key=server.api_key, base_url=server.base_url) as client,
        ):
            out.write(
                f"A local By Your Side is running at {server.base_url} (no key, no network, no phone).\n"
            )
            placed = client.place_call(to=to, objective=DEMO_OBJECTIVE, fields=DemoAppointment)
            out.write(f"Placed call {placed.call_id} to {to}: {placed.status}\n")
            out.write(f"Objective: {DEMO_OBJECTIVE}\n")
            return client.wait_for_call(
                placed.call_id,
                timeout=timeout,
                interval=poll_interval,
                fields=DemoAppointment,
                on_status=progress.show,
            )
    finally:
        progress.end()
        out.flush()


def demo_result_lines(call: Call[DemoAppointment]) -> list[str]:
    """How the demo ended: status, summary, then each value as ``name=value``, as ``get`` prints it."""
    from byourside._cli._render import one_line, value_text

    extracted = {} if call.extracted is None else call.extracted.model_dump()
    return [
        f"Final status: {call.status}",
        f"Summary: {one_line(call.summary or '')}",
        "Extracted values:",
        *(f"  {name}={value_text(value)}" for name, value in extracted.items()),
    ]


def run_demo(
    out: TextIO | None = None,
    *,
    in_place: bool | None = None,
    to: str = DEMO_NUMBER,
    timeout: float = 30,
    ring_seconds: float = 0.5,
    talk_seconds: float = 1.5,
    poll_interval: float = 0.25,
) -> int:
    """Place the quick-start call on an in-process FakeServer, wait for it, print the result.

    Returns the process exit status of ``byourside demo``: 0 when the call ended ``completed``,
    10-13 for the other endings, and on an error (printed as ``error: <code>: <message>`` on one
    line to stderr) that of any command (2 for an argument refused, 3 for a timeout).
    ``in_place`` rewrites the progress line with ``\\r`` (default: when ``out`` is a terminal).
    ``to`` may be any of the fake's test numbers (`byourside.testing.TEST_NUMBERS`); ``timeout``
    bounds the wait, in seconds.

    Example:
        >>> import io
        >>> out = io.StringIO()
        >>> run_demo(out, ring_seconds=0, talk_seconds=0, poll_interval=0.01)
        0
        >>> print(out.getvalue().split("Final status:")[1].splitlines()[0].strip())
        completed
    """
    from byourside._cli._exit import exit_for_error, exit_for_status

    out = out if out is not None else sys.stdout
    try:
        call = demo_call(
            out,
            in_place=in_place,
            to=to,
            timeout=timeout,
            ring_seconds=ring_seconds,
            talk_seconds=talk_seconds,
            poll_interval=poll_interval,
        )
    except ByoursideError as error:
        message = error.message if error.code else str(error)
        print(f"error: {error.code or 'error'}: {' '.join(message.split())}", file=sys.stderr)
        return int(exit_for_error(error))
    out.write("".join(f"{line}\n" for line in demo_result_lines(call)))
    out.flush()
    return int(exit_for_status(call.status))
