"""The command line's exit statuses: one per outcome a script may want to branch on."""

from __future__ import annotations

from enum import IntEnum

from byourside.errors import ByoursideError, WaitTimeoutError, WebhookVerificationError

__all__ = [
    "EXIT_DESCRIPTIONS",
    "EXIT_FOR_STATUS",
    "ExitCode",
    "exit_codes_help",
    "exit_for_error",
    "exit_for_status",
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
        "an API, SDK or system error (`not_found`, `no_api_key`, `network_error`, a port in use)"
    ),
    ExitCode.USAGE: "usage error: bad or missing arguments",
    ExitCode.WAIT_TIMEOUT: "the wait timed out before the call ended (code `timeout`)",
    ExitCode.WEBHOOK_REJECTED: "`webhooks verify`: the delivery did not verify (code `invalid_signature`)",
    ExitCode.NO_ANSWER: "the call ended `no_answer`",
    ExitCode.VOICEMAIL: "the call ended `voicemail`",
    ExitCode.DECLINED: "the call ended `declined`",
    ExitCode.FAILED: "the call ended `failed`",
    ExitCode.INTERNAL: "an unexpected error inside the command line (a bug: please report it)",
    ExitCode.INTERRUPTED: "interrupted (Ctrl-C)",
}
"""One line per exit status, for ``--help`` and the README's table."""

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
    if isinstance(error, WaitTimeoutError):
        return ExitCode.WAIT_TIMEOUT
    if isinstance(error, WebhookVerificationError):
        return ExitCode.WEBHOOK_REJECTED
    return ExitCode.API_ERROR


def exit_codes_help() -> str:
    """The exit statuses as an aligned plain-text list, for ``--help``."""
    return "\n".join(f"  {int(code):>3}  {text.replace('`', '')}" for code, text in EXIT_DESCRIPTIONS.items())
