"""Where the command line writes: data on stdout, everything else on stderr with secrets redacted.

`StatusLine` is the live status of a wait: rewritten in place (``\\r``) on a terminal, with the
elapsed time ticking, and one plain line per status change when stderr is a file or a pipe.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any, BinaryIO, TextIO

from byourside._cli._render import one_line
from byourside._models import Call

__all__ = ["Console", "StatusLine", "redact"]

REDACTED = "[redacted]"
# Keys and webhook secrets by their documented prefixes: a key pasted in the wrong place (a call
# id, an unrecognised argument) must not come back in an error message either.
_SECRET_SHAPES = re.compile(r"\b(bys_ak_|whsec_)[A-Za-z0-9][^\s'\",]*")


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with every secret, and anything shaped like a key or webhook secret, replaced.

    Example:
        >>> redact("unrecognized arguments: bys_ak_live_123 c1")
        'unrecognized arguments: bys_ak_[redacted] c1'
        >>> redact("bad value 'k3y-v4lue'", secrets=["k3y-v4lue"])
        "bad value '[redacted]'"
    """
    for secret in sorted(set(secrets), key=len, reverse=True):
        if secret:
            text = text.replace(secret, REDACTED)
    return _SECRET_SHAPES.sub(lambda match: f"{match.group(1)}{REDACTED}", text)


class Console:
    """The command's two streams. Errors read ``error: <code>: <message>``, on one line."""

    def __init__(
        self, out: TextIO, err: TextIO, secrets: Iterable[str] = (), *, stdin: BinaryIO | None = None
    ) -> None:
        self.out = out
        self.err = err
        self.secrets = tuple(secret for secret in secrets if secret)
        self.stdin = stdin

    def read_input(self) -> bytes:
        """Everything on stdin, as raw bytes (a webhook body must be verified as received)."""
        if self.stdin is None:
            return b""
        if self.stdin.isatty():  # someone typing, or a forgotten `< body.json`: say what we wait for
            self.note("reading the raw body from stdin; end it with Ctrl-D")
        return self.stdin.read()

    def lines(self, lines: Iterable[str]) -> None:
        """Write `lines` (data) to stdout."""
        for line in lines:
            self.out.write(f"{line}\n")
        self.out.flush()

    def json(self, value: Any, *, compact: bool = False) -> None:
        """Write `value` as JSON to stdout: indented, or on one line (`compact`) for streams."""
        if compact:
            text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        else:
            text = json.dumps(value, ensure_ascii=False, indent=2)
        self.lines([text])

    def note(self, text: str) -> None:
        """Write one line of commentary (progress, hints) to stderr."""
        self.err.write(f"{redact(text, self.secrets)}\n")
        self.err.flush()

    def error(self, code: str, message: str) -> None:
        """Write ``error: <code>: <message>`` to stderr, on one line."""
        self.note(f"error: {code}: {' '.join(message.split())}")

    def raw_err(self, text: str) -> None:
        """Write `text` (usage text, say) to stderr as it is, secrets redacted."""
        self.err.write(redact(text, self.secrets))
        self.err.flush()


class StatusLine:
    """The status of a call being waited for, and the time elapsed, on stderr.

    Use as a context manager and pass `update` as ``on_status``. With `live` (stderr is a
    terminal) one line is redrawn with ``\\r``, and a ticker thread keeps the elapsed time moving
    between polls; otherwise each new status is written on a line of its own.
    """

    def __init__(
        self,
        stream: TextIO,
        *,
        live: bool,
        clock: Callable[[], float] = time.monotonic,
        tick: float = 0.2,
    ) -> None:
        self.stream = stream
        self.live = live
        self.clock = clock
        self.tick = tick
        self.started = clock()
        self.status: str | None = None
        self._width = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def __enter__(self) -> StatusLine:
        if self.live:
            self._ticker = threading.Thread(target=self._tick, name="byourside-status-line", daemon=True)
            self._ticker.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.end()

    def update(self, call: Call) -> None:
        """Show `call`'s status (the ``on_status`` callback of `Client.wait_for_call`)."""
        with self._lock:
            self.status = one_line(call.status)
            self._draw()

    def end(self) -> None:
        """Stop the ticker and leave the cursor on a fresh line."""
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
            self._ticker = None
        with self._lock:
            if self.live and self._width:
                self.stream.write("\n")
                self.stream.flush()
                self._width = 0

    def text(self) -> str:
        """The line as it reads now, e.g. ``status: in_progress  elapsed: 4.2 s``."""
        return f"status: {self.status or 'unknown':<12} elapsed: {self.clock() - self.started:5.1f} s"

    def _draw(self) -> None:
        if self.status is None:
            return
        line = self.text()
        if self.live:
            # Padded to the last width: a shorter status must not leave the end of a longer one.
            self.stream.write(f"\r{line:<{self._width}}")
            self._width = max(self._width, len(line))
        else:
            self.stream.write(f"{line}\n")
        self.stream.flush()

    def _tick(self) -> None:
        while not self._stop.wait(self.tick):
            with self._lock:
                if not self._stop.is_set():
                    self._draw()
