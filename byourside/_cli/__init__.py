"""The ``byourside`` command line: place, watch and inspect calls, and debug webhooks.

Installed as the ``byourside`` console script and as ``python -m byourside``::

    byourside call --to +14155550123 --objective "Confirm tomorrow's 2pm appointment" \\
        --field confirmed:boolean --field new_time:string --wait
    byourside get CALL_ID          byourside list --limit 10          byourside wait CALL_ID
    byourside demo                 (a local fake server: no key, no network)
    byourside batch rows.csv --objective "Confirm the appointment for {name}" \\
        --journal run.jsonl --out results.csv     (one call per row, resumable)
    byourside webhooks verify --secret whsec_... --header 't=...,v1=...' < body.json
    byourside webhooks listen --port 8000 --secret whsec_...
    byourside fake-server          (a local fake API, for scripts and tests in any language)

The key comes from ``--api-key`` or ``BYOURSIDE_API_KEY``, the base URL from ``--base-url`` or
``BYOURSIDE_BASE_URL``; neither the key nor a webhook secret is ever printed. Data goes to stdout
(``--json``: the wire JSON, every call object carrying its id as both ``callId`` and ``id``);
progress, hints and errors go to stderr. An error is one line, ``error: <code>: <message>``,
never a traceback. The global options (``--json``, ``--api-key``, ``--base-url``) go before or
after the command; a command with no use for one refuses it by name.

Exit statuses:

====  ===============================================================================================
0     success; when waiting, the call ended ``completed``
1     an API, SDK or system error (``not_found``, ``unauthorized``, ``network_error``, a port in use)
2     usage error: an argument or setting refused before any request (``no_api_key``, ...)
3     the wait timed out before the call ended (code ``timeout``)
4     ``webhooks verify``: ``invalid_signature``, or a valid signature on ``not_an_event``
10    the call ended ``no_answer``
11    the call ended ``voicemail``
12    the call ended ``declined``
13    the call ended ``failed``
70    an unexpected error inside the command line (a bug: please report it)
130   interrupted (Ctrl-C)
====  ===============================================================================================
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Sequence

from byourside._cli._commands import WEBHOOK_SECRET_ENV, run_command
from byourside._cli._console import Console
from byourside._cli._exit import ExitCode, exit_for_error
from byourside._cli._parser import UsageError, build_parser
from byourside.errors import ByoursideError, WebhookVerificationError

__all__ = ["ExitCode", "main"]

_SECRET_OPTIONS = ("--api-key", "--secret")


def _secrets_typed(words: Sequence[str]) -> Iterable[str]:
    """The values given to secret options, and those in the environment: never to be printed."""
    for index, word in enumerate(words):
        for option in _SECRET_OPTIONS:
            if word == option and index + 1 < len(words):
                yield words[index + 1]
            elif word.startswith(f"{option}="):
                yield word.partition("=")[2]
    for variable in ("BYOURSIDE_API_KEY", WEBHOOK_SECRET_ENV):
        yield os.environ.get(variable, "")


def _error_text(error: ByoursideError) -> str:
    text = str(error)
    return text[len(f"{error.code}: ") :] if error.code and text.startswith(f"{error.code}: ") else text


def _silence_stdout() -> None:
    # The reader of stdout went away (`byourside list | head -1`). Point the descriptor at
    # devnull so the interpreter's final flush does not fail a second time, noisily.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def main(argv: Sequence[str] | None = None, *, prog: str = "byourside", command: str | None = None) -> int:
    """Run the command in `argv` (default: the process's arguments); returns the exit status.

    With `command` (``"fake-server"``), `argv` holds that command's arguments alone and `prog`
    names it: the entry point ``python -m byourside.testing`` is ``byourside fake-server``.

    Example:
        >>> main(["--version"])  # doctest: +ELLIPSIS
        byourside ...
        0
    """
    words = list(sys.argv[1:] if argv is None else argv)
    stdin = getattr(sys.stdin, "buffer", None)
    console = Console(sys.stdout, sys.stderr, _secrets_typed(words), stdin=stdin)
    try:
        parser = build_parser(prog)
        if command is not None:
            parser = parser.command(command)
            parser.prog = prog
        args = parser.parse_args(words)
        live = bool(getattr(sys.stderr, "isatty", lambda: False)())
        return int(run_command(args, console, live=live))
    except UsageError as error:
        console.raw_err(error.usage + error.message)
        return ExitCode.USAGE
    except SystemExit as done:  # --help and --version print and "exit"
        return done.code if isinstance(done.code, int) else ExitCode.OK
    except KeyboardInterrupt:
        console.note("interrupted")
        return ExitCode.INTERRUPTED
    except WebhookVerificationError as error:
        console.error("invalid_signature", f"{error.reason}: {error.message}")
        return ExitCode.WEBHOOK_REJECTED
    except ByoursideError as error:
        console.error(error.code or "error", _error_text(error))
        return exit_for_error(error)
    except BrokenPipeError:
        _silence_stdout()
        return ExitCode.API_ERROR
    except Exception as error:  # the promise: one line on stderr, never a traceback
        console.error("internal_error", f"{type(error).__name__}: {error}")
        return ExitCode.INTERNAL
