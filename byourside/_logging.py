"""`BYOURSIDE_LOG=debug|info`: the `byourside` logger's records on stderr without configuring logging.

Read once, when `byourside.client` is imported (not at every request). ``info`` shows retries and
rate-limit pauses; ``debug`` adds one line per request and per reply (method, URL, status, size,
request id). No record carries the API key: the transport logs neither headers nor bodies.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from collections.abc import Mapping

__all__ = ["ENV_VAR", "configure_from_env"]

ENV_VAR = "BYOURSIDE_LOG"
LEVELS = {"debug": logging.DEBUG, "info": logging.INFO}
FORMAT = "%(asctime)s byourside %(levelname)s %(message)s"
HANDLER_NAME = "byourside-env"  # names the handler this adds, so it is added at most once

logger = logging.getLogger("byourside")


def configure_from_env(environ: Mapping[str, str] = os.environ) -> int | None:
    """Send the `byourside` logger's records at and above `BYOURSIDE_LOG`'s level to stderr.

    Returns the level turned on, or None when the variable is unset or empty. Any other value
    than ``debug`` or ``info`` (in any case) is ignored with a warning, never a failed import.
    The handler goes on the `byourside` logger only and records still propagate, so an
    application's own logging setup keeps working.
    """
    value = environ.get(ENV_VAR, "").strip()
    if not value:
        return None
    level = LEVELS.get(value.lower())
    if level is None:
        warnings.warn(
            f"{ENV_VAR}={value!r} is ignored: use {' or '.join(LEVELS)}", RuntimeWarning, stacklevel=2
        )
        return None
    if not any(handler.get_name() == HANDLER_NAME for handler in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.set_name(HANDLER_NAME)
        handler.setFormatter(logging.Formatter(FORMAT))
        logger.addHandler(handler)
    logger.setLevel(level)
    return level
