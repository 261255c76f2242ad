"""What each command does, once its arguments have parsed: a few client calls and their output."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable

from byourside._cli import _batch as batch
from byourside._cli._console import Console, StatusLine
from byourside._cli._exit import ExitCode, exit_for_status
from byourside._cli._listen import listen
from byourside._cli._render import call_lines, calls_table, event_lines, placed_lines
from byourside._models import Call
from byourside.client import Client
from byourside.errors import AuthenticationError, ByoursideError, InvalidRequestError, NotFoundError
from byourside.webhooks import construct_event

__all__ = ["COMMANDS", "WEBHOOK_SECRET_ENV", "run_command"]

WEBHOOK_SECRET_ENV = "BYOURSIDE_WEBHOOK_SECRET"  # noqa: S105 - a variable name, not a secret

_REFUSALS = (NotFoundError, AuthenticationError, InvalidRequestError)


def _client(args: argparse.Namespace) -> Client:
    # None falls back to BYOURSIDE_API_KEY / BYOURSIDE_BASE_URL inside Client.
    return Client(api_key=getattr(args, "api_key", None), base_url=getattr(args, "base_url", None))


def _as_json(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "json", False))


def _show_call(call: Call, args: argparse.Namespace, console: Console) -> None:
    if _as_json(args):
        console.json(call.to_wire())
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
                console.json(placed.to_wire())
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
        console.json([call.to_wire() for call in calls])
    else:
        console.lines(calls_table(calls))
    return ExitCode.OK


def wait(args: argparse.Namespace, console: Console, live: bool) -> ExitCode:
    """``byourside wait CALL_ID``: wait for a call to end; the exit status says how it ended."""
    with _client(args) as client:
        return _wait(client, args.call_id, args, console, live)


def demo(args: argparse.Namespace, console: Console, live: bool) -> int:
    """``byourside demo``: the quick-start call on an in-process FakeServer (`byourside._demo`)."""
    from byourside._demo import run_demo  # it starts a FakeServer: loaded only for this command

    if args.to is None:
        return run_demo(console.out)
    return run_demo(console.out, to=args.to)


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
    event = construct_event(console.read_input(), args.header, secrets, args.tolerance)
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
}


def run_command(args: argparse.Namespace, console: Console, *, live: bool) -> int:
    """Run the command `args` names; `live`: stderr is a terminal (the status line redraws)."""
    return COMMANDS[args.run](args, console, live)
