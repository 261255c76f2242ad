"""``byourside mcp``: a Model Context Protocol server (stdio) that gives an AI agent the phone, safely.

Tools: ``place_call``, ``get_call``, ``list_calls`` and ``wait_for_call``, on the typed client.
The operator decides whom the agent may call and how often (`byourside._mcp._policy`); every
refusal is a tool error the agent can read, given before any request.

Only this package imports ``mcp``, the optional extra ``byourside[mcp]``: ``import byourside`` and
the command line's other commands never load it, and without it ``byourside mcp`` says in one line
which extra to install.

Example host configuration (Claude Desktop and other MCP hosts)::

    {"mcpServers": {"byourside": {
        "command": "byourside",
        "args": ["mcp", "--allow", "+1415555*", "--max-calls", "5"],
        "env": {"BYOURSIDE_API_KEY": "bys_ak_..."}}}}
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from byourside._mcp._policy import (
    DEFAULT_MAX_CALLS,
    DEFAULT_MAX_CALLS_PER_NUMBER_PER_DAY,
    DEFAULT_MAX_WAIT,
    Ledger,
    Policy,
    PolicyError,
    load_config,
)
from byourside.errors import ByoursideError

__all__ = [
    "DESCRIPTION",
    "EXITS",
    "EXTRA_HINT",
    "add_arguments",
    "build_parser",
    "policy_from_args",
    "run",
    "serve",
]

EXTRA_HINT = "byourside mcp needs the optional extra: pip install 'byourside[mcp]'"
"""Printed (after ``error: mcp_not_installed:``) when the ``mcp`` package is missing."""


def build_parser(prog: str = "byourside mcp") -> argparse.ArgumentParser:
    """The parser of ``python -m byourside._mcp``; ``byourside mcp`` adds the same options."""
    parser = argparse.ArgumentParser(prog=prog, description=DESCRIPTION, epilog=EXITS)
    add_arguments(parser)
    return parser


DESCRIPTION = (
    "Serve the By Your Side tools to an AI agent over MCP (stdio). Calls are placed only to "
    "numbers on the allow-list, within the caps. The key comes from BYOURSIDE_API_KEY or "
    "--api-key-file and is never shown to the agent."
)
"""What ``byourside mcp --help`` says first."""

EXITS = (
    "exit status: 0 the host closed the session; 1 no key, or the mcp extra is missing "
    "(mcp_not_installed); 2 bad options or policy file (invalid_policy)"
)
"""The exit statuses ``byourside mcp`` can return."""


def add_arguments(parser: argparse.ArgumentParser, *, base_url: bool = True) -> None:
    """Add the options of ``byourside mcp`` to `parser` (`base_url`: also ``--base-url``)."""
    parser.add_argument(
        "--allow",
        action="append",
        metavar="NUMBER_OR_PREFIX",
        help="a destination the agent may call: an E.164 number (+14155550123) or a prefix ending "
        "in * (+1415555*); repeat for more. Without any, the server places no calls.",
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="a JSON policy file (keys: allow, max_calls, "
        "max_calls_per_number_per_day, max_wait, dry_run, state_file); options given "
        "on the command line win",
    )
    parser.add_argument(
        "--max-calls",
        type=int,
        metavar="N",
        help=f"calls this server session may place (default {DEFAULT_MAX_CALLS})",
    )
    parser.add_argument(
        "--max-calls-per-number-per-day",
        type=int,
        metavar="N",
        help=f"calls to one number per UTC day (default {DEFAULT_MAX_CALLS_PER_NUMBER_PER_DAY})",
    )
    parser.add_argument(
        "--max-wait",
        type=float,
        metavar="SECONDS",
        help=f"the longest wait_for_call timeout an agent may ask for (default {DEFAULT_MAX_WAIT:g})",
    )
    parser.add_argument(
        "--state-file", metavar="FILE", help="keep the per-day counts in this JSON file, across restarts"
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        default=None,
        help="check and report what would be placed; place nothing",
    )
    if base_url:
        parser.add_argument(
            "--base-url", help="the API's base URL (default: BYOURSIDE_BASE_URL, then the service)"
        )
    parser.add_argument(
        "--api-key-file", metavar="FILE", help="read the key from this file instead of BYOURSIDE_API_KEY"
    )


def policy_from_args(args: argparse.Namespace) -> Policy:
    """The policy from the file (if any) and the options; raises `PolicyError` for a bad value."""
    settings: dict[str, Any] = load_config(args.config) if args.config else {}
    given = {
        "allow": args.allow,
        "max_calls": args.max_calls,
        "max_calls_per_number_per_day": args.max_calls_per_number_per_day,
        "max_wait": args.max_wait,
        "dry_run": args.dry_run,
        "state_file": args.state_file,
    }
    settings.update({key: value for key, value in given.items() if value is not None})
    if isinstance(settings.get("allow"), list):
        # `--allow '+1415555*,+44...'` works as well as repeating the option.
        settings["allow"] = [part.strip() for entry in settings["allow"] for part in str(entry).split(",")]
    return Policy.build(**settings)


def _api_key(args: argparse.Namespace) -> str | None:
    if args.api_key_file:
        return Path(args.api_key_file).read_text(encoding="utf-8").strip()
    return os.environ.get("BYOURSIDE_API_KEY")


def run(argv: Sequence[str] | None = None, *, stderr: TextIO | None = None) -> int:
    """Run ``byourside mcp`` with `argv` until the host closes stdin; returns the exit status."""
    try:
        args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as done:
        return done.code if isinstance(done.code, int) else 0
    return serve(args, stderr=stderr)


def serve(args: argparse.Namespace, *, stderr: TextIO | None = None) -> int:
    """Serve with the parsed options `args` until the host closes stdin; returns the exit status."""
    err = stderr or sys.stderr
    try:
        policy = policy_from_args(args)
        ledger = Ledger(policy)
    except PolicyError as error:
        print(f"error: invalid_policy: {error}", file=err)
        return 2
    try:
        from byourside._mcp._tools import build_server
    except ImportError as error:
        if (error.name or "").split(".")[0] != "mcp":
            raise
        print(f"error: mcp_not_installed: {EXTRA_HINT}", file=err)
        return 1
    from byourside.client import Client

    try:
        key = _api_key(args)
    except OSError as error:
        print(f"error: no_api_key: cannot read --api-key-file: {error.strerror}", file=err)
        return 1
    try:
        client = Client(api_key=key, base_url=getattr(args, "base_url", None))
    except ByoursideError as error:
        print(f"error: {error.code}: {error.message}", file=err)
        return 1
    with client:
        if not policy.allow:
            print("byourside mcp: no --allow given: reads work, placing calls is refused", file=err)
        build_server(client, policy, ledger).run("stdio")
    return 0
