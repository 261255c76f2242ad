"""What each command does, once its arguments have parsed: a few client calls and their output."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable

from byourside._cli import _batch as batch
from byourside._cli._console import Console, StatusLine
from byourside._cli._exit import ExitCode, exit_for_status
from byourside._cli._fake_server import serve
from byourside._cli._listen import listen
from byourside._cli._render import call_json, call_lines, calls_table, event_lines, placed_lines
from byourside._models import Call
from byourside.client import Client
from byourside.errors import (
    AuthenticationError,
    ByoursideError,
    InvalidRequestError,
    NotFoundError,
    WebhookVerificationError,
)
from byourside.webhooks import construct_event

__all__ = ["COMMANDS", "GLOBALS_USED", "WEBHOOK_SECRET_ENV", "run_command"]

WEBHOOK_SECRET_ENV = "BYOURSIDE_WEBHOOK_SECRET"  # noqa: S105 - a variable name, not a secret

_REFUSALS = (NotFoundError, AuthenticationError, InvalidRequestError)


def _client(args: argparse.Namespace) -> Client:
    # None falls back to BYOURSIDE_API_KEY / BYOURSIDE_BASE_URL inside Client.
    return Client(api_key=getattr(args, "api_key", None), base_url=getattr(args, "base_url", None))


def _as_json(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "json", False))


def _show_call(call: Call, args: argparse.Namespace, console: Console) -> None:
    if _as_json(args):
        console.json(call_json(call))
    else:
        console.lines(call_lines(call))


def _wait(client: Client, call_id: str, args: argparse.Namespace, console: Console, live: bool) -> ExitCode:
    try:
        with StatusLine(console.err, live=live) as status_line:
            call = client.wait_for_call(call_id, args.timeout, args.interval, on_status=status_line.update)
    except (ByoursideError, KeyboardInterrupt) as error:
        # A refusal (an unknown id, a bad key) ended nothing; a timeout, a network failure or
        # Ctrl-C only ended the waiting: the call goes on, so say how to pick it up again.
        if not isinstance(error, _REFUSALS):
            console.note(f"call {call_id} may still be going; to wait again: byourside wait {call_id}")
        raise
    _show_call(call, args, console)
    code = exit_for_status(call.status)
    if code != ExitCode.OK:
        console.note(f"the call ended {call.status} (exit status {int(code)})")
    return code


def place(args: argparse.Namespace, console: Console, live: bool) -> ExitCode:
    """``byourside call``: place a call; with ``--wait``, wait for it and exit by how it ended."""
    with _client(args) as client:
        placed = client.place_call(
            args.to,
            args.objective,
            args.context,
            args.fields,
            args.webhook_url,
            args.caller_id,
            voice=args.voice,
            language=args.language,
        )
        if not args.wait:
            if _as_json(args):
                console.json(call_json(placed))
            else:
                console.lines(placed_lines(placed))
            return ExitCode.OK
        console.note(f"placed call {placed.call_id}: {placed.status}")
        return _wait(client, placed.call_id, args, console, live)


def get(args: argparse.Namespace, console: Console, live: bool) -> ExitCode:
    """``byourside get CALL_ID``: show one call."""
    with _client(args) as client:
        _show_call(client.get_call(args.call_id), args, console)
    return ExitCode.OK


def recent(args: argparse.Namespace, console: Console, live: bool) -> ExitCode:
    """``byourside list``: the most recent calls, as a table or a JSON array."""
    with _client(args) as client:
        calls = client.list_calls(args.limit)
    if _as_json(args):
        console.json([call_json(call) for call in calls])
    else:
        console.lines(calls_table(calls))
    return ExitCode.OK


def wait(args: argparse.Namespace, console: Console, live: bool) -> ExitCode:
    """``byourside wait CALL_ID``: wait for a call to end; the exit status says how it ended."""
    with _client(args) as client:
        return _wait(client, args.call_id, args, console, live)


def demo(args: argparse.Namespace, console: Console, live: bool) -> int:
    """``byourside demo``: the quick-start call on an in-process FakeServer (`byourside._demo`).

    Its errors and exit statuses are every command's; with ``--json`` the story goes to stderr
    and the call's JSON to stdout.
    """
    from byourside._demo import DEMO_NUMBER, demo_call, demo_result_lines  # starts a FakeServer

    story = console.err if _as_json(args) else console.out
    call = demo_call(story, in_place=live if _as_json(args) else None, to=args.to or DEMO_NUMBER)
    if _as_json(args):
        console.json(call_json(call))
    else:
        console.lines(demo_result_lines(call))
    code = exit_for_status(call.status)
    if code != ExitCode.OK:
        console.note(f"the call ended {call.status} (exit status {int(code)})")
    return code


NOT_AN_EVENT = frozenset({"body_not_json", "body_not_event"})
"""`construct_event`'s reasons given after the signature verified."""


def _webhook_secrets(args: argparse.Namespace) -> list[str]:
    secrets = args.secret if args.secret is not None else [os.environ.get(WEBHOOK_SECRET_ENV, "")]
    if not all(secrets):
        args.command_parser.error(f"no webhook secret: pass --secret whsec_... or set {WEBHOOK_SECRET_ENV}")
    return list(secrets)


def verify(args: argparse.Namespace, console: Console, live: bool) -> ExitCode:
    """``byourside webhooks verify``: check the delivery on stdin against ``--header``.

    A failed check raises `WebhookVerificationError`; `main` prints its reason (exit status 4).
    """
    secrets = _webhook_secrets(args)
    try:
        event = construct_event(console.read_input(), args.header, secrets, args.tolerance)
    except WebhookVerificationError as error:
        if error.reason not in NOT_AN_EVENT:
            raise
        # The signature checks passed: saying `invalid_signature` would send the reader to the
        # wrong place. The body is what is wrong.
        console.error(
            "not_an_event", f"the signature is valid, but the body is not a webhook event: {error.message}"
        )
        return ExitCode.WEBHOOK_REJECTED
    if _as_json(args):
        console.json(event.to_wire())
    else:
        console.lines(["verified", *event_lines(event)])
    return ExitCode.OK


def receive(args: argparse.Namespace, console: Console, live: bool) -> int:
    """``byourside webhooks listen``: verify, answer and print deliveries until Ctrl-C."""
    return listen(
        args.host,
        args.port,
        _webhook_secrets(args),
        console,
        tolerance=args.tolerance,
        as_json=_as_json(args),
        max_events=args.max_events,
    )


COMMANDS: dict[str, Callable[[argparse.Namespace, Console, bool], int]] = {
    "call": place,
    "get": get,
    "list": recent,
    "wait": wait,
    "demo": demo,
    "batch": batch.run,
    "webhooks verify": verify,
    "webhooks listen": receive,
    "fake-server": serve,
    "mcp": lambda args, console, live: _mcp_serve(args),
}

_API = ("api_key", "base_url")
GLOBALS_USED: dict[str, tuple[str, ...]] = {
    "call": (*_API, "json"),
    "get": (*_API, "json"),
    "list": (*_API, "json"),
    "wait": (*_API, "json"),
    "batch": _API,
    "demo": ("json",),
    "webhooks verify": ("json",),
    "webhooks listen": ("json",),
    "fake-server": ("api_key", "json"),
    "mcp": ("base_url",),
}
"""The global options each command uses; given to another, they are refused by name."""

_WHY_NOT = {
    "batch": {"json": "its results go to --out (a path ending .jsonl writes JSON lines)"},
    "demo": {"api_key": "it runs its own local server", "base_url": "it runs its own local server"},
    "fake-server": {"base_url": "it is the server (--port chooses where)"},
    "mcp": {
        "api_key": "give the key in BYOURSIDE_API_KEY or --api-key-file (an MCP host's args are "
        "visible to every process on the machine)",
        "json": "it speaks MCP's JSON-RPC on stdout",
    },
}


def _refuse_unused_globals(args: argparse.Namespace) -> None:
    for dest in ("api_key", "base_url", "json"):
        if dest in vars(args) and dest not in GLOBALS_USED[args.run]:
            why = _WHY_NOT.get(args.run, {}).get(dest, "it talks to no API")
            option = "--" + dest.replace("_", "-")
            args.command_parser.error(f"{option} does not apply to `{args.run}`: {why}")


def _mcp_serve(args: argparse.Namespace) -> int:
    from byourside._mcp import serve as serve_mcp  # the policy only; mcp itself loads inside

    return serve_mcp(args)


def run_command(args: argparse.Namespace, console: Console, *, live: bool) -> int:
    """Run the command `args` names; `live`: stderr is a terminal (the status line redraws).

    A global option the command does not use is a usage error, wherever it was typed.
    """
    _refuse_unused_globals(args)
    return COMMANDS[args.run](args, console, live)
