"""The command line's parts in-process: option parsing, redaction, rendering, the status line,
the webhook receiver's edge cases, and the exit-status table as documented."""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import pty
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import byourside._cli
from byourside import TERMINAL_STATUSES, Call, sign_webhook
from byourside._cli import ExitCode, main
from byourside._cli._commands import COMMANDS
from byourside._cli._console import Console, StatusLine, redact
from byourside._cli._exit import EXIT_DESCRIPTIONS, EXIT_FOR_STATUS, exit_for_status
from byourside._cli._listen import MAX_BODY_BYTES, WebhookReceiver
from byourside._cli._parser import parse_field
from byourside._cli._render import calls_table, one_line, value_text
from byourside._models import FieldSpec

README = Path(__file__).resolve().parent.parent / "README.md"
SECRET = "whsec_units_secret"

names = st.text(st.characters(exclude_categories=["Cs"], exclude_characters=":"), min_size=1).filter(
    lambda name: name.strip() == name
)


@given(name=names, field_type=st.sampled_from(["string", "boolean", "number"]), description=st.text())
def test_a_field_option_round_trips(name: str, field_type: str, description: str) -> None:
    spec = parse_field(f"{name}:{field_type}:{description}")
    assert spec == FieldSpec(name=name, type=field_type, description=description or None)  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["", ":boolean", "  :string", "when:date", "n:Boolean"])
def test_a_bad_field_option_is_refused(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        parse_field(text)


keys = st.text(
    st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"), min_size=6
)


@given(before=st.text(), key=keys, after=st.text())
def test_redaction_removes_every_secret(before: str, key: str, after: str) -> None:
    text = redact(f"{before}{key}{after} bys_ak_{key} whsec_{key}", secrets=[key])
    assert key not in text


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "the following arguments are required: COMMAND"),
        (["list", "--limit", "0"], "argument --limit: expected a whole number from 1 to 100, got '0'"),
        (["list", "--limit", "many"], "argument --limit: expected a whole number from 1 to 100, got 'many'"),
        (["wait", "c1", "--timeout", "-1"], "argument --timeout: expected seconds >= 0, got '-1'"),
        (["wait", "c1", "--interval", "0"], "argument --interval: the poll interval must be more than 0"),
        (["wait", "c1", "--timeout", "nan"], "argument --timeout: expected seconds >= 0, got 'nan'"),
        (["get"], "the following arguments are required: CALL_ID"),
        (["webhooks"], "the following arguments are required: COMMAND"),
        (
            ["webhooks", "listen", "--port", "70000"],
            "argument --port: expected a whole number from 0 to 65535",
        ),
        (["list", "--api", "bys_ak_abc123"], "unrecognized arguments: --api bys_ak_[redacted]"),
        (["list", "--limit", "s3cr3t-k3y", "--api-key", "s3cr3t-k3y"], "got '[redacted]'"),
    ],
)
def test_usage_errors_exit_2_with_usage_and_a_redacted_message(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == ExitCode.USAGE
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("usage: byourside")
    assert message in err.splitlines()[-1]


def test_an_unexpected_error_is_one_line_exit_70(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(args: argparse.Namespace, console: Console, live: bool) -> int:
        raise RuntimeError("boom")

    monkeypatch.setitem(COMMANDS, "list", broken)
    assert main(["list"]) == ExitCode.INTERNAL
    assert capsys.readouterr().err == "error: internal_error: RuntimeError: boom\n"


def test_exit_statuses_cover_every_terminal_status_and_are_distinct() -> None:
    assert set(EXIT_FOR_STATUS) == TERMINAL_STATUSES
    assert exit_for_status("completed") == ExitCode.OK
    assert len(set(EXIT_FOR_STATUS.values())) == len(EXIT_FOR_STATUS)
    assert set(EXIT_DESCRIPTIONS) == set(ExitCode)
    assert exit_for_status("some_future_status") != ExitCode.OK


def _documented_statuses(text: str, row: str) -> dict[int, str]:
    return {int(match[0]): match[1].strip() for match in re.findall(row, text, flags=re.MULTILINE)}


def test_the_exit_statuses_are_documented_in_the_docstring_and_the_readme() -> None:
    plain = {int(code): text.replace("`", "") for code, text in EXIT_DESCRIPTIONS.items()}
    docstring = _documented_statuses(byourside._cli.__doc__ or "", r"^\s*(\d+)\s+(.+)$")
    assert {code: text.replace("``", "") for code, text in docstring.items()} == plain
    section = README.read_text(encoding="utf-8").split("## Command line", 1)[1].split("\n## ", 1)[0]
    readme = _documented_statuses(section, r"^\| `?(\d+)`? \| (.+) \|$")
    assert readme == {int(code): text for code, text in EXIT_DESCRIPTIONS.items()}


def test_value_text_and_one_line_keep_the_terminal_safe() -> None:
    assert value_text("3pm") == "3pm"
    assert value_text("") == '""'
    assert value_text(2) == "2"
    assert value_text({"a": [1]}) == '{"a": [1]}'
    assert one_line("a\x1b]0;title\x07b\r\nc\x9bd") == "a ]0;title b c d"


def test_the_table_aligns_columns_and_cuts_long_objectives() -> None:
    calls = [
        Call.model_validate({"callId": "call_1", "status": "completed", "to": "+14155550123",
                             "objective": "x" * 80}),
        Call.model_validate({"id": "c2", "status": "some_new_status", "objective": "Line\none"}),
    ]  # fmt: skip
    header, first, second = calls_table(calls)
    assert header.index("STATUS") == first.index("completed") == second.index("some_new_status")
    assert first.endswith("x" * 45 + "...")
    assert second.endswith("Line one")
    assert calls_table([]) == ["no calls"]


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _call(status: str) -> Call:
    return Call.model_validate({"id": "c1", "status": status})


def test_the_status_line_writes_one_line_per_change_when_not_a_terminal() -> None:
    stream, clock = io.StringIO(), _Clock()
    with StatusLine(stream, live=False, clock=clock) as line:
        line.update(_call("queued"))
        clock.now += 2.5
        line.update(_call("in_progress"))
    assert (
        stream.getvalue() == "status: queued       elapsed:   0.0 s\nstatus: in_progress  elapsed:   2.5 s\n"
    )


def test_the_live_status_line_redraws_over_itself_and_ends_the_line() -> None:
    stream, clock = io.StringIO(), _Clock()
    with StatusLine(stream, live=True, clock=clock, tick=3600) as line:
        line.update(_call("in_progress"))
        clock.now += 61
        line.update(_call("failed\x1b[2J"))
    first, second = stream.getvalue().split("\r")[1:]
    assert first == "status: in_progress  elapsed:   0.0 s"
    assert second == "status: failed       elapsed:  61.0 s\n"


@pytest.fixture
def receiver() -> Iterator[tuple[WebhookReceiver, io.StringIO, io.StringIO]]:
    out, err = io.StringIO(), io.StringIO()
    server = WebhookReceiver(("127.0.0.1", 0), [SECRET], Console(out, err, [SECRET]))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    yield server, out, err
    server.shutdown()
    server.server_close()
    thread.join()


def _request(
    server: WebhookReceiver, method: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=5)
    try:
        connection.request(method, "/", body=body, headers=headers or {})
        reply = connection.getresponse()
        return reply.status, reply.read()
    finally:
        connection.close()


def test_the_receiver_answers_what_is_not_a_delivery(
    receiver: tuple[WebhookReceiver, io.StringIO, io.StringIO],
) -> None:
    server, out, _ = receiver
    assert _request(server, "GET")[0] == 405
    too_big = {"Content-Length": str(MAX_BODY_BYTES + 1)}
    assert _request(server, "POST", headers=too_big) == (413, b'{"error": "body_too_large"}')
    assert _request(server, "POST", headers={"Content-Length": "x"})[0] == 400
    status, body = _request(server, "POST", b"{}", {"X-BYS-Signature": "t=1"})
    assert (status, json.loads(body)["reason"]) == (400, "no_v1_signature")
    assert (server.accepted, server.rejected, out.getvalue()) == (0, 1, "")


def test_the_receiver_marks_a_redelivery(receiver: tuple[WebhookReceiver, io.StringIO, io.StringIO]) -> None:
    server, out, err = receiver
    body = (
        b'{"event":"call.in_progress","eventId":"evt_9","timestamp":"2026-11-25T14:00:05Z",'
        b'"callId":"c9","status":"in_progress"}'
    )
    for _ in range(2):
        assert _request(server, "POST", body, {"X-BYS-Signature": sign_webhook(body, SECRET)})[0] == 200
    assert out.getvalue().splitlines() == [
        "call.in_progress evt_9 call c9 status in_progress",
        "call.in_progress evt_9 call c9 status in_progress (redelivery)",
    ]
    assert err.getvalue() == ""


def test_reading_a_body_from_a_terminal_says_what_it_waits_for() -> None:
    main_end, tty_end = pty.openpty()
    os.write(main_end, b'{"event": "call.completed"}\n\x04')  # a line, then Ctrl-D
    err = io.StringIO()
    with os.fdopen(tty_end, "rb") as terminal:
        body = Console(io.StringIO(), err, stdin=terminal).read_input()
    os.close(main_end)
    assert body == b'{"event": "call.completed"}\n'
    assert err.getvalue() == "reading the raw body from stdin; end it with Ctrl-D\n"
    assert Console(io.StringIO(), err, stdin=io.BytesIO(b"{}")).read_input() == b"{}"
    assert err.getvalue().count("\n") == 1  # not for a file or a pipe
