"""Every reliability test runs with every logger at DEBUG into a watch that fails the test when
the API key appears in any record: message, arguments, traceback or stack. Also the fixtures the
raw-socket tests share: a scripted server, and an event that releases a stalled responder."""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Iterator

import pytest

from tests.reliability.support import ScriptedServer, leaks, scripted_server


class KeyLeakWatch(logging.Handler):
    """Counts the records it sees and keeps those that show the key."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.seen = 0
        self.leaked: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen += 1
        try:
            message = record.getMessage()
        except Exception:  # a record whose arguments do not fit its format still gets checked
            message = f"{record.msg!r} % {record.args!r}"
        texts = [message, repr(record.args), record.exc_text or "", record.stack_info or ""]
        if record.exc_info and record.exc_info[1] is not None:
            texts.extend(traceback.format_exception(record.exc_info[1]))
        if any(leaks(text) for text in texts):
            self.leaked.append(f"{record.name} {record.levelname}: {message[:300]}")


@pytest.fixture(autouse=True)
def key_never_logged() -> Iterator[KeyLeakWatch]:
    """Turn every logger up to DEBUG for the test, and fail it if any record shows the key."""
    watch = KeyLeakWatch()
    root = logging.getLogger()
    loggers = [root] + [
        logger for logger in root.manager.loggerDict.values() if isinstance(logger, logging.Logger)
    ]
    levels = {logger: logger.level for logger in loggers}
    isolated = [logger for logger in loggers if not logger.propagate]
    root.setLevel(logging.DEBUG)
    for logger in loggers:
        if logger.level > logging.DEBUG:
            logger.setLevel(logging.DEBUG)
    for logger in [root, *isolated]:
        logger.addHandler(watch)
    try:
        yield watch
    finally:
        for logger in [root, *isolated]:
            logger.removeHandler(watch)
        for logger, level in levels.items():
            logger.setLevel(level)
    assert not watch.leaked, f"the API key appeared in {len(watch.leaked)} log records: {watch.leaked[:3]}"


@pytest.fixture
def released() -> Iterator[threading.Event]:
    """Set at the end of the test: a stalled or trickling responder lets go of its connection."""
    event = threading.Event()
    yield event
    event.set()


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    """A scripted server for this test alone, one request per connection."""
    with scripted_server() as scripted:
        yield scripted
