"""The command line's exit statuses: one per outcome a script may want to branch on."""

from __future__ import annotations

from collections.abc import Iterable
from enum import IntEnum

from byourside.errors import (
    AuthenticationError,
    ByoursideError,
    ExtractionError,
    InvalidRequestError,
    NotFoundError,
    WaitTimeoutError,
    WebhookVerificationError,
)

__all__ = [
    "COMMAND_EXITS",
    "EXIT_DESCRIPTIONS",
    "EXIT_FOR_STATUS",
    "ExitCode",
    "exit_codes_help",
    "exit_for_error",
    "exit_for_status",
    "is_usage_error",
]


class ExitCode(IntEnum):
    """What the process exit status of ``byourside`` means."""

    OK = 0
    API_ERROR = 1
    USAGE = 2
    WAIT_TIMEOUT = 3
    WEBHOOK_REJECTED = 4
    NO_ANSWER = 10
    VOICEMAIL = 11
    DECLINED = 12
    FAILED = 13
    INTERNAL = 70
    INTERRUPTED = 130


EXIT_DESCRIPTIONS: dict[ExitCode, str] = {
    ExitCode.OK: "success; when waiting, the call ended `completed`",
    ExitCode.API_ERROR: (
        "an API, SDK or system error (`not_found`, `unauthorized`, `network_error`, a port in use)"
    ),
    ExitCode.USAGE: "usage error: an argument or setting refused before any request (`no_api_key`, ...)",
    ExitCode.WAIT_TIMEOUT: "the wait timed out before the call ended (code `timeout`)",
    ExitCode.WEBHOOK_REJECTED: (
        "`webhooks verify`: `invalid_signature`, or a valid signature on `not_an_event`"
    ),
    ExitCode.NO_ANSWER: "the call ended `no_answer`",
    ExitCode.VOICEMAIL: "the call ended `voicemail`",
    ExitCode.DECLINED: "the call ended `declined`",
    ExitCode.FAILED: "the call ended `failed`",
    ExitCode.INTERNAL: "an unexpected error inside the command line (a bug: please report it)",
    ExitCode.INTERRUPTED: "interrupted (Ctrl-C)",
}
"""One line per exit status, for ``--help`` and the README's table."""

_ALWAYS = (ExitCode.USAGE, ExitCode.INTERNAL, ExitCode.INTERRUPTED)
_ENDED = (ExitCode.NO_ANSWER, ExitCode.VOICEMAIL, ExitCode.DECLINED, ExitCode.FAILED)
_WAITING = (ExitCode.OK, ExitCode.API_ERROR, ExitCode.WAIT_TIMEOUT, *_ENDED, *_ALWAYS)

COMMAND_EXITS: dict[str, tuple[ExitCode, ...]] = {
    "call": _WAITING,
    "get": (ExitCode.OK, ExitCode.API_ERROR, *_ALWAYS),
    "list": (ExitCode.OK, ExitCode.API_ERROR, *_ALWAYS),
    "wait": _WAITING,
    "demo": _WAITING,
    "webhooks verify": (ExitCode.OK, ExitCode.WEBHOOK_REJECTED, *_ALWAYS),
    "webhooks listen": (ExitCode.OK, ExitCode.API_ERROR, *_ALWAYS),
    "fake-server": (ExitCode.OK, ExitCode.API_ERROR, ExitCode.USAGE, ExitCode.INTERNAL),
    "mcp": (ExitCode.OK, ExitCode.API_ERROR, ExitCode.USAGE, ExitCode.INTERNAL),
}
"""The exit statuses each command can return, for its ``--help`` (``batch`` writes its own)."""

EXIT_FOR_STATUS: dict[str, ExitCode] = {
    "completed": ExitCode.OK,
    "no_answer": ExitCode.NO_ANSWER,
    "voicemail": ExitCode.VOICEMAIL,
    "declined": ExitCode.DECLINED,
    "failed": ExitCode.FAILED,
}
"""The exit status of a wait that ended with each terminal status."""


def exit_for_status(status: str) -> ExitCode:
    """The exit status of a wait that ended with `status`.

    Example:
        >>> int(exit_for_status("completed")), int(exit_for_status("voicemail"))
        (0, 11)
    """
    # wait_for_call returns only on a terminal status, and every one is in the table; a status
    # added to the spec later still must not look like success.
    return EXIT_FOR_STATUS.get(status, ExitCode.API_ERROR)


def exit_for_error(error: ByoursideError) -> ExitCode:
    """The exit status of a command that raised `error`.

    Example:
        >>> from byourside.errors import NotFoundError
        >>> int(exit_for_error(NotFoundError("Call ID not found", 404, "not_found")))
        1
    """
    if is_usage_error(error):
        return ExitCode.USAGE
    if isinstance(error, WaitTimeoutError):
        return ExitCode.WAIT_TIMEOUT
    if isinstance(error, WebhookVerificationError):
        return ExitCode.WEBHOOK_REJECTED
    return ExitCode.API_ERROR


# Refused before I/O, but not the arguments' fault: another batch holds the journal.
_NOT_ARGUMENT_PROBLEMS = frozenset({"journal_in_use"})


def is_usage_error(error: ByoursideError) -> bool:
    """Whether `error` is the SDK refusing an argument or setting before any request was sent.

    Such a refusal is a usage error (exit status 2) whichever check caught it, argparse's or the
    SDK's: an invalid number, no key or a malformed one, an empty call id, an unsupported field.

    Example:
        >>> from byourside.errors import InvalidRequestError
        >>> is_usage_error(InvalidRequestError("Number must be E.164", 0, "invalid_number"))
        True
        >>> is_usage_error(InvalidRequestError("Destination not allowed", 400, "destination_blocked"))
        False
    """
    if error.status != 0 or error.may_have_placed or error.code in _NOT_ARGUMENT_PROBLEMS:
        return False
    if isinstance(error, ExtractionError):
        return error.code == "unsupported_field"
    return isinstance(error, (InvalidRequestError, AuthenticationError, NotFoundError))


def exit_codes_help(codes: Iterable[ExitCode] = tuple(ExitCode)) -> str:
    """The exit statuses `codes` (default: all) as an aligned plain-text list, for ``--help``."""
    lines = (f"  {int(code):>3}  {EXIT_DESCRIPTIONS[code].replace('`', '')}" for code in sorted(codes))
    return "\n".join(lines)
