"""One language for the command line: global options anywhere, one JSON rule, exit statuses.

Global options are accepted before or after every command, or refused by name where they do not
apply; every call object printed as JSON carries both ``callId`` and ``id``; each command's
``--help`` lists the exit statuses it can return and documents every argument; a refusal before
any request exits 2 whichever check made it; ``demo`` reports like the others; ``webhooks
verify`` never calls a valid signature invalid; ``byourside fake-server`` runs as a process.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from byourside import sign_webhook
from byourside._cli import ExitCode
from byourside._cli._exit import COMMAND_EXITS
from byourside._cli._parser import build_parser
from byourside.testing import TEST_NUMBERS, FakeServer
from tests.cli_support import FAST, KEY, SECRET, finish, run, start, start_fake_server

SEED = "+14155550123"


@pytest.fixture(scope="module")
def server() -> Iterator[FakeServer]:
    with FakeServer(api_key=KEY, webhook_secret=SECRET, instant=True) as fake:
        yield fake


def _call_id(server: FakeServer) -> str:
    done = run(["call", "--to", SEED, "--objective", "Confirm"], server)
    assert done.code == ExitCode.OK, done.stderr
    return done.stdout.split()[1]


def test_every_call_object_printed_as_json_carries_call_id_and_id(server: FakeServer) -> None:
    placed = json.loads(run(["call", "--to", SEED, "--objective", "Confirm", "--json"], server).stdout)
    call_id = placed["callId"]
    got = json.loads(run(["get", call_id, "--json"], server).stdout)
    waited = json.loads(run(["--json", "wait", call_id, *FAST], server).stdout)
    listed = json.loads(run(["list", "--json", "--limit", "3"], server).stdout)
    for call in (placed, got, waited, *listed):
        assert call["callId"] == call["id"], call
    assert got["callId"] == waited["id"] == call_id
    assert call_id in {call["callId"] for call in listed}


def test_get_json_piped_to_jq_reads_call_id(server: FakeServer) -> None:
    call_id = _call_id(server)
    shell = f"byourside get {call_id} --json | jq -r .callId"
    done = subprocess.run(
        ["/bin/bash", "-o", "pipefail", "-c", shell],
        env={**_env(server), "PATH": f"{sys.prefix}/bin:/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stdout) == (0, f"{call_id}\n"), done.stderr


def _env(server: FakeServer) -> dict[str, str]:
    return {"BYOURSIDE_BASE_URL": server.base_url, "BYOURSIDE_API_KEY": KEY}


@pytest.mark.parametrize("where", ["before", "after"])
def test_global_options_work_before_or_after_every_api_command(server: FakeServer, where: str) -> None:
    call_id = _call_id(server)
    commands = {
        "call": ["call", "--to", SEED, "--objective", "Confirm"],
        "get": ["get", call_id],
        "list": ["list", "--limit", "1"],
        "wait": ["wait", call_id, *FAST],
    }
    options = ["--api-key", KEY, "--base-url", server.base_url, "--json"]
    processes = {
        name: start([*options, *words] if where == "before" else [*words, *options], key=None)
        for name, words in commands.items()
    }
    for name, process in processes.items():
        done = finish(process)
        assert done.code == ExitCode.OK, (name, done.stderr)
        json.loads(done.stdout)


@pytest.mark.parametrize(
    ("words", "refusal"),
    [
        (["--api-key", KEY, "demo"], "--api-key does not apply to `demo`: it runs its own local server"),
        (["demo", "--base-url", "http://127.0.0.1:1"], "--base-url does not apply to `demo`"),
        (
            [
                "--base-url",
                "http://127.0.0.1:1",
                "webhooks",
                "verify",
                "--header",
                "t=1,v1=a",
                "--secret",
                SECRET,
            ],
            "--base-url does not apply to `webhooks verify`: it talks to no API",
        ),
        (
            ["webhooks", "listen", "--api-key", KEY, "--secret", SECRET],
            "--api-key does not apply to `webhooks listen`",
        ),
        (
            ["--json", "batch", "rows.csv", "--objective", "x", "--journal", "j", "--out", "o"],
            "--json does not apply to `batch`: its results go to --out",
        ),
        (["--base-url", "http://127.0.0.1:1", "fake-server"], "--base-url does not apply to `fake-server`"),
    ],
)
def test_a_global_option_a_command_does_not_use_is_refused_by_name(words: list[str], refusal: str) -> None:
    done = run(words, key=None)
    assert done.code == ExitCode.USAGE
    assert refusal in done.stderr, done.stderr


def test_demo_takes_json_before_or_after_and_prints_the_call() -> None:
    before, after = start(["--json", "demo"], key=None), start(["demo", "--json"], key=None)
    for process in (before, after):
        done = finish(process)
        assert done.code == ExitCode.OK, done.stderr
        call = json.loads(done.stdout)
        assert call["callId"] == call["id"]
        assert (call["status"], call["extracted"]) == (
            "completed",
            {"confirmed": True, "new_time": "tomorrow at 3pm"},
        )
        assert "Placed call" in done.stderr  # the story goes to stderr, leaving stdout to the JSON


def test_demo_reports_errors_and_exits_as_every_command() -> None:
    done = run(["demo", "--to", "555-0100"], key=None)
    assert done.code == ExitCode.USAGE
    assert done.stderr == "error: invalid_number: Number must be E.164, e.g. +14155550123: got '555-0100'\n"
    declined = run(["demo", "--to", TEST_NUMBERS["declined"]], key=None)
    assert declined.code == ExitCode.DECLINED
    assert "  confirmed=null" in declined.stdout


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    found: dict[str, argparse.ArgumentParser] = {}

    def walk(parser: argparse.ArgumentParser) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    run_name = sub.get_default("run")
                    if run_name:
                        found[run_name] = sub
                    walk(sub)

    walk(build_parser())
    return found


def test_every_command_and_its_help_lists_its_own_exit_statuses_and_documents_every_argument() -> None:
    commands = _subcommands()
    assert set(commands) == {*COMMAND_EXITS, "batch"}
    for name, parser in commands.items():
        text = parser.format_help()
        listed = {
            int(code) for code in re.findall(r"^\s+(\d+)  ", text.split("exit status:")[1], re.MULTILINE)
        }
        expected = {0, 1, 2, 70, 130} if name == "batch" else {int(code) for code in COMMAND_EXITS[name]}
        assert listed == expected, name
        for action in parser._actions:
            assert action.help, (name, action.dest)
            assert action.help != argparse.SUPPRESS, (name, action.dest)
    assert {int(c) for c in COMMAND_EXITS["get"]} == {0, 1, 2, 70, 130}
    assert 4 in {int(c) for c in COMMAND_EXITS["webhooks verify"]}
    assert 4 not in {int(c) for c in COMMAND_EXITS["call"]}


@pytest.mark.parametrize(
    "words",
    [
        ["list", "--limit", "0"],
        ["list", "--limit", "101"],
        ["list", "--limit", "ten"],
        ["wait", "call_x", "--timeout", "-1"],
        ["wait", "call_x", "--interval", "0"],
        ["call", "--to", SEED, "--objective", "x", "--wait", "--timeout", "nan"],
        ["webhooks", "verify", "--tolerance", "-5", "--header", "t=1,v1=a"],
        ["webhooks", "listen", "--port", "70000"],
        ["webhooks", "listen", "--max-events", "0"],
        ["fake-server", "--ring-seconds", "-1"],
        ["fake-server", "--port", "-1"],
    ],
)
def test_numeric_options_are_usage_errors_before_any_request(server: FakeServer, words: list[str]) -> None:
    before = len(server.requests)
    done = run(words, server)
    assert done.code == ExitCode.USAGE, done.stderr
    assert len(server.requests) == before


@pytest.mark.parametrize(
    ("words", "code"),
    [
        (["call", "--to", "555", "--objective", "x"], "invalid_number"),
        (["call", "--to", SEED, "--objective", "x", "--caller-id", "5"], "invalid_caller_id"),
        (
            ["call", "--to", SEED, "--objective", "x", "--webhook-url", "http://example.com/h"],
            "invalid_webhook_url",
        ),
        (["--base-url", "http://127.0.0.1:9/v1", "list"], "invalid_base_url"),
        (["--api-key", "bys_ak_with space", "list"], "invalid_api_key"),
        (["get", "."], "not_found"),
    ],
)
def test_the_sdks_refusals_before_any_request_exit_2(server: FakeServer, words: list[str], code: str) -> None:
    before = len(server.requests)
    done = run(words, server)
    assert done.code == ExitCode.USAGE, done.stderr
    assert done.stderr.startswith(f"error: {code}: ")
    assert len(server.requests) == before


def test_a_base_url_with_a_path_says_what_to_pass(server: FakeServer) -> None:
    done = run(["list", "--base-url", f"{server.base_url}/v1"], server)
    assert done.stderr == (
        "error: invalid_base_url: The base URL is the API's address alone, e.g. https://api.byourside.ai "
        f"(no /v1): got '{server.base_url}/v1'; pass '{server.base_url}'\n"
    )


@pytest.mark.parametrize("body", [b"not json", b'{"hello": "world"}', b"[1, 2]"])
def test_verify_on_a_valid_signature_over_a_non_event_says_so(body: bytes) -> None:
    done = run(["webhooks", "verify", "--secret", SECRET, "--header", sign_webhook(body, SECRET)], stdin=body)
    assert done.code == ExitCode.WEBHOOK_REJECTED
    assert done.stderr.startswith(
        "error: not_an_event: the signature is valid, but the body is not a webhook event: "
    )
    assert "invalid_signature" not in done.stderr
    assert done.stdout == ""


def test_fake_server_prints_its_settings_serves_and_exits_0_on_sigterm() -> None:
    fake = start_fake_server(
        [
            "--api-key",
            "bys_ak_proc_key",
            "--webhook-secret",
            "whsec_proc",
            "--ring-seconds",
            "0",
            "--talk-seconds",
            "0",
        ]
    )
    try:
        assert fake.settings["BYOURSIDE_API_KEY"] == "bys_ak_proc_key"
        assert fake.settings["BYOURSIDE_WEBHOOK_SECRET"] == "whsec_proc"
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", fake.settings["BYOURSIDE_BASE_URL"])
        done = run(["call", "--to", SEED, "--objective", "Confirm", "--wait", *FAST], key=None, env=fake.env)
        assert done.code == ExitCode.OK, done.stderr
        assert re.search(r"^status: +completed$", done.stdout, re.MULTILINE)
        wrong = run(["list"], key=None, env={**fake.env, "BYOURSIDE_API_KEY": "bys_ak_other"})
        assert wrong.stderr.startswith("error: unauthorized: ")
    finally:
        fake.process.send_signal(signal.SIGTERM)
        _, err = fake.process.communicate(timeout=30)
    assert fake.process.returncode == 0
    assert err.decode().splitlines()[-1] == "stopped"


def test_python_m_byourside_testing_prints_json_and_exits_0_on_ctrl_c() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "byourside.testing", "--port", "0", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    settings = json.loads(process.stdout.readline())
    assert set(settings) == {"baseUrl", "apiKey", "webhookSecret"}
    assert settings["apiKey"] == "bys_ak_fake_server_key"
    listed = run(
        ["list"], key=None, env={"BYOURSIDE_BASE_URL": settings["baseUrl"], "BYOURSIDE_API_KEY": "bys_ak_x"}
    )
    assert (listed.code, listed.stdout) == (0, "no calls\n")
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=30)
    assert process.returncode == 0


def test_fake_server_on_a_port_in_use_exits_1() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run(["fake-server", "--port", str(port)], key=None)
    assert done.code == ExitCode.API_ERROR
    assert done.stderr.startswith(f"error: listen_failed: cannot listen on 127.0.0.1:{port}: ")


def test_python_m_byourside_testing_names_itself_in_its_usage() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "byourside.testing", "--port", "x"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == ExitCode.USAGE
    assert done.stderr.startswith("usage: python -m byourside.testing [-h] [--json] [--port PORT]")
    assert done.stderr.splitlines()[-1] == (
        "python -m byourside.testing: error: argument --port: "
        "expected a whole number from 0 to 65535, got 'x'"
    )
