"""The ``byourside`` argument parser: every command, option and check on the words typed.

Options are checked here, before any client exists: a bad ``--field`` or ``--timeout`` is a usage
error (exit status 2) and costs no request.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import Any, NoReturn

from byourside._cli._exit import COMMAND_EXITS, exit_codes_help
from byourside._models import FieldSpec
from byourside._validation import FIELD_TYPES
from byourside._version import __version__

__all__ = ["Parser", "UsageError", "build_parser", "parse_field"]

DESCRIPTION = """\
Place, watch and inspect By Your Side calls, and debug webhooks, from a terminal.

The key comes from --api-key or BYOURSIDE_API_KEY (prefer the environment: a command line is
visible to other users of the machine); the base URL from --base-url or BYOURSIDE_BASE_URL. The
key is never printed. --json prints the wire JSON on stdout, for scripts; progress and errors go
to stderr. Try it without a key or network: `byourside demo`.
"""


def epilog(command: str | None = None) -> str:
    """The ``exit status:`` block of `command`'s ``--help`` (every status for the top level)."""
    codes = COMMAND_EXITS[command] if command is not None else None
    listed = exit_codes_help() if codes is None else exit_codes_help(codes)
    return f"exit status:\n{listed}\n\nErrors print `error: <code>: <message>` on stderr.\n"


class UsageError(Exception):
    """Bad arguments: the parser's usage text and its message, printed by `main` (exit status 2)."""

    def __init__(self, usage: str, message: str) -> None:
        super().__init__(message)
        self.usage = usage
        self.message = message


class Parser(argparse.ArgumentParser):
    """An `ArgumentParser` that raises `UsageError` rather than printing and exiting itself, so
    `main` can redact the message (a key typed in the wrong place) and return the status."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # No abbreviations: `--api` for `--api-key` would slip past the redaction of its value.
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise UsageError(self.format_usage(), f"{self.prog}: error: {message}\n")

    def command(self, name: str) -> Parser:
        """The parser of the (top-level) command `name`, e.g. ``"fake-server"``."""
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction) and name in action.choices:
                sub: Parser = action.choices[name]
                return sub
        raise KeyError(name)


def parse_field(text: str) -> FieldSpec:
    """A ``--field`` value, ``name[:type[:description]]``, as a `FieldSpec`.

    The type is ``string`` (the service's default, not sent), ``boolean`` or ``number``; the
    description is everything after the second colon, colons included.

    Example:
        >>> parse_field("confirmed:boolean").to_wire()
        {'name': 'confirmed', 'type': 'boolean'}
        >>> parse_field("new_time:string:The new time, e.g. 3:30pm").description
        'The new time, e.g. 3:30pm'
        >>> parse_field("notes").to_wire()
        {'name': 'notes'}
    """
    name, _, rest = text.partition(":")
    field_type, _, description = rest.partition(":")
    name, field_type = name.strip(), field_type.strip()
    if not name:
        raise argparse.ArgumentTypeError(f"a field is name[:type[:description]], got {text!r}")
    if field_type and field_type not in FIELD_TYPES:
        raise argparse.ArgumentTypeError(
            f"field {name!r}: the type must be one of {', '.join(FIELD_TYPES)}, got {field_type!r}"
        )
    spec = FieldSpec(name=name)
    if field_type:
        spec.type = field_type  # type: ignore[assignment]  # checked against FIELD_TYPES above
    if description:
        spec.description = description
    return spec


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected seconds >= 0, got {text!r}")
    return value


def _poll_interval(text: str) -> float:
    value = _seconds(text)
    if value == 0:
        raise argparse.ArgumentTypeError("the poll interval must be more than 0 seconds")
    return value


def _int_between(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"expected a whole number from {low} to {high}, got {text!r}")
        return value

    return parse


def _add_wait_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--timeout",
        type=_seconds,
        default=180.0,
        metavar="SECONDS",
        help="give up waiting after this long, exit status 3 (default: 180)",
    )
    parser.add_argument(
        "--interval",
        type=_poll_interval,
        default=3.0,
        metavar="SECONDS",
        help="seconds between polls (default: 3)",
    )


def build_parser(prog: str = "byourside") -> Parser:
    """The parser of every command. Each command sets ``run`` to its name (``"webhooks verify"``)."""
    # Global options are accepted before or after every command (`byourside --json list` and
    # `byourside list --json`); SUPPRESS keeps a subcommand's unset copy from hiding the other.
    # A command an option does not apply to refuses it by name (`_commands.GLOBALS_USED`).
    api = Parser(add_help=False)
    api.add_argument(
        "--api-key",
        default=argparse.SUPPRESS,
        metavar="KEY",
        help="the agent key, bys_ak_... (default: $BYOURSIDE_API_KEY); never printed",
    )
    api.add_argument(
        "--base-url",
        default=argparse.SUPPRESS,
        metavar="URL",
        help="the API (default: $BYOURSIDE_BASE_URL, then https://api.byourside.ai)",
    )
    output = Parser(add_help=False)
    output.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="print the wire JSON on stdout"
    )
    secret = Parser(add_help=False)
    secret.add_argument(
        "--secret",
        action="append",
        metavar="SECRET",
        help="the endpoint's webhook secret, whsec_...; repeat while rotating "
        "(default: $BYOURSIDE_WEBHOOK_SECRET); never printed",
    )
    secret.add_argument(
        "--tolerance",
        type=_seconds,
        default=300.0,
        metavar="SECONDS",
        help="how far the signature's timestamp may be from now (default: 300)",
    )

    parser = Parser(
        prog=prog,
        parents=[api, output],
        description=DESCRIPTION,
        epilog=epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(
        name: str,
        help_text: str,
        parents: list[Parser],
        group: Any = commands,
        run: str | None = None,
        shared: tuple[Parser, ...] = (api, output),
    ) -> Parser:
        run = run or name
        sub: Parser = group.add_parser(
            name,
            parents=[*parents, *shared],
            help=help_text,
            description=f"{help_text[0].upper()}{help_text[1:]}.",
            epilog=epilog(run) if run in COMMAND_EXITS else None,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        sub.set_defaults(run=run, command_parser=sub)
        return sub

    call = command("call", "place a call (and with --wait, wait for it to end)", [])
    call.add_argument(
        "--to", required=True, metavar="NUMBER", help="the number to call, E.164 (+14155550123)"
    )
    call.add_argument("--objective", required=True, metavar="TEXT", help="what the AI should achieve")
    call.add_argument("--context", metavar="TEXT", help="background for the AI, never told to the callee")
    call.add_argument(
        "--field",
        dest="fields",
        action="append",
        type=parse_field,
        metavar="NAME[:TYPE[:DESCRIPTION]]",
        help="a value to extract; TYPE is string (default), boolean or number; repeat for each",
    )
    call.add_argument("--caller-id", metavar="NUMBER", help="the number to call from (one you own)")
    call.add_argument("--webhook-url", metavar="URL", help="where the service POSTs this call's events")
    call.add_argument("--voice", metavar="NAME", help="the AI's voice (Aoede, Kore, Puck, ...)")
    call.add_argument("--language", metavar="TAG", help="BCP-47 tag (en-US) or auto")
    call.add_argument(
        "--wait", action="store_true", help="wait for the call to end; the exit status says how it ended"
    )
    _add_wait_options(call)

    get = command("get", "show one call", [])
    get.add_argument("call_id", metavar="CALL_ID", help="the call's id (call_...), as `call` printed it")

    recent = command("list", "list recent calls, newest first", [])
    recent.add_argument(
        "--limit",
        type=_int_between(1, 100),
        default=20,
        metavar="N",
        help="at most N calls, 1-100 (default: 20)",
    )

    wait = command("wait", "wait for a call to end; the exit status says how it ended", [])
    wait.add_argument("call_id", metavar="CALL_ID", help="the call's id (call_...), as `call` printed it")
    _add_wait_options(wait)

    from byourside._cli import _batch  # its own module: the batch command's options and checks

    _batch.add_arguments(command("batch", _batch.HELP, []))

    demo = command("demo", "place the quick-start call on a local fake server (no key, no network)", [])
    demo.add_argument(
        "--to", metavar="NUMBER", help="a test number of the fake server, to see another outcome"
    )

    from byourside import _mcp  # its options only: the mcp package loads when the command runs

    mcp = command(
        "mcp", "serve the tools to an AI agent over MCP (stdio), under your policy", [], shared=(api,)
    )
    mcp.description = _mcp.DESCRIPTION
    _mcp.add_arguments(mcp, base_url=False)

    webhook_exits = COMMAND_EXITS["webhooks listen"]
    webhooks = commands.add_parser(
        "webhooks",
        parents=[api, output],
        help="verify webhook deliveries",
        description="Verify webhook deliveries.",
        epilog=f"exit status:\n{exit_codes_help(set(COMMAND_EXITS['webhooks verify'] + webhook_exits))}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    webhooks.set_defaults(command_parser=webhooks)
    webhook_commands = webhooks.add_subparsers(dest="webhooks_command", required=True, metavar="COMMAND")

    verify = command(
        "verify",
        "check one delivery: the body on stdin, its X-BYS-Signature header as --header",
        [secret],
        webhook_commands,
        "webhooks verify",
    )
    verify.description = (
        "Check one delivery: the raw body on stdin, its X-BYS-Signature header as --header. Exit "
        "status 0 when it verifies, 4 (and the failed check) when not."
    )
    verify.add_argument("--header", required=True, metavar="'t=...,v1=...'", help="the X-BYS-Signature value")

    listen = command(
        "listen",
        "receive deliveries locally: verify each, answer 200 or 400, print each event",
        [secret],
        webhook_commands,
        "webhooks listen",
    )
    listen.description = (
        "Run a local webhook receiver: verify each delivery, answer 200 (or 400 when it does not "
        "verify, as the service expects) and print each event; --json prints one JSON object a "
        'line, with "redelivery": true or false. Stops on Ctrl-C.'
    )
    listen.add_argument(
        "--port",
        type=_int_between(0, 65535),
        default=8000,
        help="the port to listen on (default: 8000; 0 picks a free one)",
    )
    listen.add_argument("--host", default="127.0.0.1", help="the address to listen on (default: 127.0.0.1)")
    listen.add_argument(
        "--max-events", type=_int_between(1, 2**31), metavar="N", help="exit after N verified deliveries"
    )

    from byourside._cli import _fake_server  # its own module, shared with `python -m byourside.testing`

    # Its own --api-key (the key it accepts), so only --json is shared.
    _fake_server.add_arguments(command("fake-server", _fake_server.HELP, [], shared=(output,)))
    return parser
