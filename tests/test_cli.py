"""The ``byourside`` console script, run for real in subprocesses against a FakeServer.

Every command and option, ``--json`` read back into the SDK's models, every exit status, usage
errors, a missing key, and (checked on every run by `tests.cli_support`) the key never printed.
"""

from __future__ import annotations

import json
import os
import pty
import select
import signal
from collections.abc import Iterator

import pytest

from byourside import Call, Client, PlacedCall
from byourside._cli import ExitCode
from byourside.testing import TEST_NUMBERS, FakeServer
from byourside.testing._http import RecordedRequest
from tests.cli_support import FAST, KEY, SECRET, assert_no_secret, finish, run, start

SEED = "+14155550123"


@pytest.fixture(scope="module")
def server() -> Iterator[FakeServer]:
    with FakeServer(
        api_key=KEY, webhook_secret=SECRET, ring_seconds=0.02, talk_seconds=0.05, webhook_retry_delays=()
    ) as fake:
        yield fake


def posts(server: FakeServer) -> list[RecordedRequest]:
    return [request for request in server.requests if request.method == "POST"]


def ended_call(server: FakeServer, to: str = SEED) -> Call:
    with Client(KEY, server.base_url) as client:
        placed = client.place_call(
            to, "Confirm the appointment", fields=[{"name": "confirmed", "type": "boolean"}]
        )
        return client.wait_for_call(placed.call_id, timeout=10, interval=0.02)


def assert_lifecycle(seen: list[str], final: str) -> None:
    """`seen` is one line per status change, in lifecycle order, ending with `final`.

    Which of the early statuses a poll catches depends on the machine's speed, not on the CLI.
    """
    lifecycle = ["queued", "in_progress", final]
    assert seen[-1] == final
    assert seen == sorted(set(seen), key=lifecycle.index), seen


def test_call_sends_every_option_and_prints_the_placed_call(server: FakeServer) -> None:
    done = run(
        [
            "call",
            "--to", SEED,
            "--objective", "Confirm the appointment",
            "--context", "Booked last week",
            "--field", "confirmed:boolean",
            "--field", "new_time:string:The new time, e.g. 3:30pm",
            "--field", "party_size:number",
            "--field", "notes",
            "--caller-id", "+14155550100",
            "--webhook-url", "http://127.0.0.1:9/hooks",
            "--voice", "Kore",
            "--language", "en-US",
        ],
        server,
    )  # fmt: skip
    assert done.code == ExitCode.OK, done.stderr
    lines = done.stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["id:", "status:"]
    call_id = lines[0].split()[1]
    assert lines[1].split()[1] == "queued"
    post = posts(server)[-1]
    assert post.header("Authorization") == f"Bearer {KEY}"
    assert post.json() == {
        "to": SEED,
        "objective": "Confirm the appointment",
        "context": "Booked last week",
        "fields": [
            {"name": "confirmed", "type": "boolean"},
            {"name": "new_time", "type": "string", "description": "The new time, e.g. 3:30pm"},
            {"name": "party_size", "type": "number"},
            {"name": "notes"},
        ],
        "callerId": "+14155550100",
        "webhookUrl": "http://127.0.0.1:9/hooks",
        "voice": "Kore",
        "language": "en-US",
    }
    assert call_id in {call.call_id for call in server.calls}
    assert done.stderr == ""


def test_python_m_byourside_call_json_is_a_placed_call(server: FakeServer) -> None:
    done = run(["call", "--to", SEED, "--objective", "Say hi", "--json"], server, module=True)
    assert done.code == ExitCode.OK, done.stderr
    placed = PlacedCall.model_validate(json.loads(done.stdout))
    assert placed.status == "queued"
    assert server.calls[-1].call_id == placed.call_id


@pytest.mark.parametrize(
    "options", [["--json"], ["--json", "--timeout", "30"]], ids=["after-command", "with-timeout"]
)
def test_call_wait_exits_by_how_the_call_ended(server: FakeServer, options: list[str]) -> None:
    expected = {
        "completed": ExitCode.OK,
        "no_answer": ExitCode.NO_ANSWER,
        "voicemail": ExitCode.VOICEMAIL,
        "declined": ExitCode.DECLINED,
        "failed": ExitCode.FAILED,
    }
    runs = {
        status: start(
            ["call", "--to", TEST_NUMBERS[status], "--objective", "Check in", "--wait", *FAST, *options],
            server,
        )
        for status in expected
    }
    for status, process in runs.items():
        done = finish(process)
        assert done.code == expected[status], (status, done.stderr)
        call = Call.model_validate(json.loads(done.stdout))
        assert call.status == status
        assert call.is_terminal
        progress = done.stderr.splitlines()
        assert "\r" not in done.stderr  # stderr is a pipe: one plain line per status
        assert progress[0] == f"placed call {call.call_id}: queued"
        status_lines = [line for line in progress if line.startswith("status: ")]
        assert_lifecycle([line.split()[1] for line in status_lines], status)
        assert all(line.split()[2] == "elapsed:" for line in status_lines)
        if status != "completed":
            assert progress[-1] == f"the call ended {status} (exit status {int(expected[status])})"


def test_call_wait_prints_the_key_fields_and_extracted_values(server: FakeServer) -> None:
    done = run(
        ["call", "--to", SEED, "--objective", "Confirm", "--field", "confirmed:boolean",
         "--field", "new_time", "--wait", *FAST],
        server,
    )  # fmt: skip
    assert done.code == ExitCode.OK, done.stderr
    fields = dict(line.split(":", 1) for line in done.stdout.splitlines()[:5])
    assert fields["status"].strip() == "completed"
    assert fields["to"].strip() == SEED
    assert fields["summary"].strip().startswith("The callee was reached")
    assert done.stdout.splitlines()[-3:] == ["extracted:", "  confirmed=true", "  new_time=tomorrow at 3pm"]
    assert_lifecycle([line.split()[1] for line in done.stderr.splitlines()[1:]], "completed")


def test_get_shows_a_call_and_json_reads_back_into_a_call(server: FakeServer) -> None:
    call = ended_call(server)
    human = start(["get", call.call_id], server)
    as_json = start(["--json", "get", call.call_id], server)  # global option before the command
    done = finish(human)
    assert done.code == ExitCode.OK, done.stderr
    assert done.stdout.splitlines()[0].split() == ["id:", call.call_id]
    assert "  confirmed=true" in done.stdout.splitlines()
    done = finish(as_json)
    assert done.code == ExitCode.OK, done.stderr
    assert Call.model_validate(json.loads(done.stdout)) == call


def test_list_prints_a_table_or_a_json_array_of_calls(server: FakeServer) -> None:
    ended_call(server)
    ended_call(server, TEST_NUMBERS["voicemail"])
    table = start(["list", "--limit", "2"], server)
    as_json = start(["list", "--limit", "2", "--json"], server)
    done = finish(table)
    assert done.code == ExitCode.OK, done.stderr
    header, *rows = done.stdout.splitlines()
    assert header.split() == ["ID", "STATUS", "TO", "OBJECTIVE"]
    assert [row.split()[1:3] for row in rows] == [
        ["voicemail", TEST_NUMBERS["voicemail"]],
        ["completed", SEED],
    ]
    assert all(row.index(row.split()[1]) == header.index("STATUS") for row in rows)  # aligned columns
    done = finish(as_json)
    calls = [Call.model_validate(item) for item in json.loads(done.stdout)]
    assert [call.status for call in calls] == ["voicemail", "completed"]
    assert {request.query for request in server.requests if request.path == "/v1/agent/calls"} >= {"limit=2"}


def test_wait_returns_an_ended_call_and_times_out_on_one_that_never_ends(server: FakeServer) -> None:
    call = ended_call(server, TEST_NUMBERS["declined"])
    with Client(KEY, server.base_url) as client:
        endless = client.place_call(TEST_NUMBERS["never_ends"], "Hold the line").call_id
    ended = start(["wait", call.call_id, "--interval", "0.5"], server)
    timed_out = start(["wait", endless, "--timeout", "0.3", *FAST], server)
    done = finish(ended)
    assert done.code == ExitCode.DECLINED, done.stderr
    assert done.stdout.splitlines()[1].split() == ["status:", "declined"]
    assert done.stderr.splitlines()[-1] == "the call ended declined (exit status 12)"
    done = finish(timed_out)
    assert done.code == ExitCode.WAIT_TIMEOUT
    assert done.stdout == ""
    *_, hint, error = done.stderr.splitlines()
    assert hint == f"call {endless} may still be going; to wait again: byourside wait {endless}"
    assert error.startswith("error: timeout: ")


def test_on_a_terminal_the_status_line_is_redrawn_in_place_and_ticks(server: FakeServer) -> None:
    with Client(KEY, server.base_url) as client:
        call_id = client.place_call(TEST_NUMBERS["never_ends"], "Hold the line").call_id
    main_end, tty_end = pty.openpty()
    process = start(["wait", call_id, "--timeout", "1.5", *FAST], server, stderr=tty_end)
    os.close(tty_end)
    seen = b""
    while True:  # read the terminal as it is written; EOF (EIO on Linux) once the process is gone
        ready, _, _ = select.select([main_end], [], [], 30)
        try:
            chunk = os.read(main_end, 4096) if ready else b""
        except OSError:
            chunk = b""
        if not chunk:
            break
        seen += chunk
    os.close(main_end)
    done = finish(process)
    assert done.code == ExitCode.WAIT_TIMEOUT
    stderr = seen.decode().replace("\r\n", "\n")  # the terminal turns \n into \r\n
    assert_no_secret(stderr)
    status_line, hint, error, ending = stderr.split("\n")
    assert (hint.split()[:2], error.split()[:2], ending) == (["call", call_id], ["error:", "timeout:"], "")
    assert status_line.startswith("\r")
    updates = status_line.split("\r")[1:]
    assert len(updates) >= 2  # the elapsed time moves between polls that change nothing
    assert {update.split()[1] for update in updates} == {"in_progress"}
    elapsed = [float(update.split()[3]) for update in updates]
    assert elapsed == sorted(elapsed)
    assert len({len(update) for update in updates}) == 1  # each overwrites the last exactly


def test_ctrl_c_while_waiting_exits_130_with_a_hint(server: FakeServer) -> None:
    with Client(KEY, server.base_url) as client:
        call_id = client.place_call(TEST_NUMBERS["never_ends"], "Hold the line").call_id
    process = start(["wait", call_id, *FAST], server)
    assert process.stderr is not None
    assert process.stderr.readline().split()[:2] == [b"status:", b"in_progress"]
    process.send_signal(signal.SIGINT)
    done = finish(process)
    assert done.code == ExitCode.INTERRUPTED
    assert done.stderr.splitlines()[-2:] == [
        f"call {call_id} may still be going; to wait again: byourside wait {call_id}",
        "interrupted",
    ]


def test_usage_errors_exit_2_before_any_request(server: FakeServer) -> None:
    before = len(server.requests)
    missing_to = start(["call", "--objective", "Confirm"], server)
    bad_field = start(["call", "--to", SEED, "--objective", "x", "--field", "when:date"], server, module=True)
    done = finish(missing_to)
    assert done.code == ExitCode.USAGE
    assert done.stderr.startswith("usage: byourside call ")
    assert done.stderr.splitlines()[-1] == "byourside call: error: the following arguments are required: --to"
    done = finish(bad_field)
    assert done.code == ExitCode.USAGE
    assert done.stderr.startswith("usage: python -m byourside call ")
    assert "must be one of string, boolean, number, got 'date'" in done.stderr
    assert len(server.requests) == before


def test_a_missing_key_is_no_api_key_before_any_request(server: FakeServer) -> None:
    before = len(server.requests)
    done = run(["list"], server, key=None)
    assert done.code == ExitCode.USAGE  # refused before any request: a usage error
    assert done.stderr == "error: no_api_key: No API key: pass api_key= or set BYOURSIDE_API_KEY\n"
    assert done.stdout == ""
    assert len(server.requests) == before


def test_the_key_from_options_is_used_and_never_printed(server: FakeServer) -> None:
    wrong = "bys_ak_cli_wrong_key_0b5e"
    flags = start(["--api-key", KEY, "--base-url", server.base_url, "list", "--limit", "1"], key=None)
    refused = start(["list", f"--api-key={wrong}"], server, key=None)
    stray = start(["get", KEY, "extra"], server)  # a key pasted where it does not belong
    as_call_id = start(["get", KEY, "--json"], server)
    done = finish(flags)
    assert done.code == ExitCode.OK, done.stderr  # the server accepts only KEY
    assert done.stdout.split()[:4] == ["ID", "STATUS", "TO", "OBJECTIVE"]
    done = finish(refused)
    assert done.code == ExitCode.API_ERROR
    assert done.stderr == "error: unauthorized: Invalid or missing API key (HTTP 401)\n"
    assert wrong not in done.stdout + done.stderr
    done = finish(stray)
    assert done.code == ExitCode.USAGE
    assert done.stderr.splitlines()[-1] == "byourside: error: unrecognized arguments: extra"
    done = finish(as_call_id)
    assert done.code == ExitCode.API_ERROR
    assert done.stderr.startswith("error: not_found: ")


def test_api_errors_exit_1_and_refusals_before_io_exit_2_with_the_code_and_message(
    server: FakeServer,
) -> None:
    stored = len(server.calls)
    unknown = start(["get", "call_does_not_exist"], server)
    blocked = start(["call", "--to", TEST_NUMBERS["blocked"], "--objective", "x"], server)
    insecure = start(["--base-url", "http://example.com", "list"], server)
    invalid = start(["call", "--to", "4155550123", "--objective", "x"], server)
    expected = {
        unknown: (ExitCode.API_ERROR, "error: not_found: Call ID not found (HTTP 404)"),
        blocked: (
            ExitCode.API_ERROR,
            "error: destination_blocked: Destination not allowed (premium, IRSF, or unsupported "
            "country) (HTTP 400)",
        ),
        insecure: (
            ExitCode.USAGE,
            "error: insecure_base_url: The base URL must be https:// (plain http:// only to loopback)",
        ),
        invalid: (
            ExitCode.USAGE,
            "error: invalid_number: Number must be E.164, e.g. +14155550123: got '4155550123'",
        ),
    }
    for process, (code, line) in expected.items():
        done = finish(process)
        assert done.code == code, done.stderr
        assert done.stderr.splitlines()[0].startswith(line), done.stderr
        assert done.stderr.count("\n") == 1
        assert done.stdout == ""
    assert len(server.calls) == stored


def test_demo_runs_on_a_local_fake_server_without_a_key() -> None:
    done = run(["demo", "--to", TEST_NUMBERS["voicemail"]], key=None)
    assert done.code == ExitCode.VOICEMAIL, done.stderr  # as `call --wait` exits on a voicemail
    assert "Final status: voicemail" in done.stdout
    assert done.stderr == "the call ended voicemail (exit status 11)\n"


def test_help_lists_every_command_and_exit_status() -> None:
    done = run(["--help"])
    assert done.code == ExitCode.OK
    for command in ("call", "get", "list", "wait", "demo", "webhooks"):
        assert f"    {command} " in done.stdout
    assert "exit status:" in done.stdout
    assert "  130  interrupted (Ctrl-C)" in done.stdout
    version = run(["--version"], module=True)
    assert version.stdout.startswith("python -m byourside ")


def test_a_wait_cut_short_by_the_service_says_how_to_resume_and_a_refusal_does_not(
    server: FakeServer,
) -> None:
    with Client(KEY, server.base_url) as client:
        call_id = client.place_call(SEED, "Confirm").call_id
    server.inject("get", "over_minute_cap")  # never retried: the wait ends on the first poll
    done = run(["wait", call_id, *FAST], server)
    assert server.pending_faults("get") == 0
    assert done.code == ExitCode.API_ERROR
    hint, error = done.stderr.splitlines()
    assert hint == f"call {call_id} may still be going; to wait again: byourside wait {call_id}"
    assert error == "error: over_minute_cap: Outbound usage limit reached (HTTP 429)"
    done = run(["wait", "call_unknown", *FAST], server)
    assert (done.code, done.stderr) == (
        ExitCode.API_ERROR,
        "error: not_found: Call ID not found (HTTP 404)\n",
    )
