"""``byourside fake-server`` (and ``python -m byourside.testing``): the FakeServer as a process.

As stripe-mock does for Stripe: a local By Your Side Agent API for the command line's examples,
for tests written in other languages, for a docker-compose file. It prints its settings as
``NAME=value`` lines a shell or an env file can take (``--json``: one JSON object), then serves
until Ctrl-C or SIGTERM and exits 0.
"""

from __future__ import annotations

import argparse
import signal
import threading
from types import FrameType
from typing import Any

from byourside._cli._console import Console
from byourside._cli._exit import ExitCode
from byourside._cli._parser import Parser, _int_between, _seconds

__all__ = ["DEFAULT_PORT", "HELP", "add_arguments", "serve"]

DEFAULT_PORT = 12111
HELP = "run a local fake By Your Side API (FakeServer) until Ctrl-C or SIGTERM"

EXAMPLE = """\
It prints its settings, then serves on 127.0.0.1 until Ctrl-C or SIGTERM (exit status 0):

  BYOURSIDE_BASE_URL=http://127.0.0.1:12111
  BYOURSIDE_API_KEY=bys_ak_fake_server_key
  BYOURSIDE_WEBHOOK_SECRET=whsec_fake_server_secret

Calls move queued -> in_progress -> an outcome chosen by the number's last four digits (0001
no_answer, 0002 voicemail, 0003 declined, 0004 failed, ...), as the FakeServer's README says.
"""


def add_arguments(parser: Parser) -> None:
    """The fake server's options, on the parser of ``byourside fake-server``."""
    parser.description = (parser.description or "") + "\n\n" + EXAMPLE
    parser.add_argument(
        "--port",
        type=_int_between(0, 65535),
        default=DEFAULT_PORT,
        help=f"the port to listen on, on 127.0.0.1 (default: {DEFAULT_PORT}; 0 picks a free one)",
    )
    parser.add_argument(
        "--api-key",
        default=argparse.SUPPRESS,
        metavar="KEY",
        help="the one key it accepts (default: any key starting bys_ak_; prints bys_ak_fake_server_key)",
    )
    parser.add_argument(
        "--webhook-secret",
        metavar="SECRET",
        help="the secret it signs webhooks with (default: whsec_fake_server_secret)",
    )
    parser.add_argument(
        "--ring-seconds",
        type=_seconds,
        default=0.5,
        metavar="SECONDS",
        help="how long a call rings before it is answered (default: 0.5)",
    )
    parser.add_argument(
        "--talk-seconds",
        type=_seconds,
        default=1.5,
        metavar="SECONDS",
        help="how long an answered call lasts (default: 1.5)",
    )


class _Stop(Exception):
    """SIGTERM arrived: stop serving as Ctrl-C does."""


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop


def serve(args: argparse.Namespace, console: Console, live: bool = False) -> int:
    """Start a FakeServer as `args` say, print its settings, serve until Ctrl-C or SIGTERM."""
    from byourside.testing import FakeServer  # loaded only for this command

    options: dict[str, Any] = {
        "port": args.port,
        "ring_seconds": args.ring_seconds,
        "talk_seconds": args.talk_seconds,
    }
    if getattr(args, "api_key", None) is not None:
        options["api_key"] = args.api_key
    if args.webhook_secret is not None:
        options["webhook_secret"] = args.webhook_secret
    server = FakeServer(**options)
    try:
        server.start()
    except OSError as error:
        console.error("listen_failed", f"cannot listen on 127.0.0.1:{args.port}: {error.strerror or error}")
        return ExitCode.API_ERROR
    previous = signal.signal(signal.SIGTERM, _raise_stop)
    try:
        settings = {
            "BYOURSIDE_BASE_URL": server.base_url,
            "BYOURSIDE_API_KEY": server.api_key,
            "BYOURSIDE_WEBHOOK_SECRET": server.webhook_secret,
        }
        if getattr(args, "json", False):
            keys = ("baseUrl", "apiKey", "webhookSecret")
            console.json(dict(zip(keys, settings.values(), strict=True)), compact=True)
        else:
            console.lines(f"{name}={value}" for name, value in settings.items())
        console.note("a local By Your Side Agent API (no phones, no network); Ctrl-C or SIGTERM to stop")
        threading.Event().wait()  # the signal handlers end the wait by raising
    except (KeyboardInterrupt, _Stop):
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.stop()
    console.note("stopped")
    return ExitCode.OK
