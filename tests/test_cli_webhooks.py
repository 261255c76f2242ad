"""``byourside webhooks verify`` and ``webhooks listen``, run for real in subprocesses."""

from __future__ import annotations

import http.client
import json
import re
import shlex
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from byourside import Client, WebhookEvent, sign_webhook
from byourside._cli import ExitCode
from byourside._cli._parser import build_parser
from byourside.testing import FakeServer
from tests.cli_support import KEY, SECRET, finish, run, start

README = Path(__file__).resolve().parent.parent / "README.md"
EVENT = (
    b'{"event":"call.completed","eventId":"evt_cli_1","timestamp":"2026-11-25T14:03:00Z",'
    b'"callId":"call_cli_1","status":"completed","to":"+14155550123","summary":"Confirmed.",'
    b'"extracted":{"confirmed":true,"new_time":null}}'
)


@pytest.fixture(scope="module")
def server() -> Iterator[FakeServer]:
    with FakeServer(api_key=KEY, webhook_secret=SECRET, ring_seconds=0.02, talk_seconds=0.05) as fake:
        yield fake


def test_verify_accepts_a_signed_body_and_prints_the_event() -> None:
    header = sign_webhook(EVENT, SECRET)
    human = start(["webhooks", "verify", "--secret", SECRET, "--header", header], stdin=subprocess.PIPE)
    as_json = start(
        [
            "webhooks",
            "verify",
            "--json",
            "--secret",
            "whsec_old",
            "--secret",
            SECRET,
            "--header",
            sign_webhook(EVENT, SECRET, timestamp=int(time.time()) - 1000),
            "--tolerance",
            "3600",
        ],
        stdin=subprocess.PIPE,
        module=True,
    )
    done = finish(human, EVENT)
    assert done.code == ExitCode.OK, done.stderr
    assert done.stdout.splitlines() == [
        "verified",
        "call.completed evt_cli_1 call call_cli_1 status completed",
        "  summary: Confirmed.",
        "  extracted:",
        "    confirmed=true",
        "    new_time=null",
    ]
    assert done.stderr == ""
    done = finish(as_json, EVENT)  # one of two secrets (a rotation) matches, 1000 s old is tolerated
    assert done.code == ExitCode.OK, done.stderr
    event = WebhookEvent.model_validate(json.loads(done.stdout))
    assert event.to_wire() == json.loads(EVENT)


@pytest.mark.parametrize(
    ("body", "header", "reason"),
    [
        (EVENT + b" ", sign_webhook(EVENT, SECRET), "signature_mismatch"),
        (EVENT, sign_webhook(EVENT, SECRET, timestamp=int(time.time()) - 3600), "timestamp_too_old"),
        (EVENT, "v1=abc", "malformed_header"),
    ],
    ids=["tampered", "replayed", "garbled"],
)
def test_verify_rejects_with_the_reason_and_exit_4(body: bytes, header: str, reason: str) -> None:
    # The secret comes from the environment here: the other way to pass it.
    done = run(
        ["webhooks", "verify", "--header", header], stdin=body, env={"BYOURSIDE_WEBHOOK_SECRET": SECRET}
    )
    assert done.code == ExitCode.WEBHOOK_REJECTED
    assert done.stdout == ""
    assert done.stderr.startswith(f"error: invalid_signature: {reason}: ")
    assert done.stderr.count("\n") == 1


def test_verify_without_a_secret_is_a_usage_error() -> None:
    done = run(["webhooks", "verify", "--header", "t=1,v1=ab"], stdin=EVENT)
    assert done.code == ExitCode.USAGE
    assert done.stderr.splitlines()[-1] == (
        "byourside webhooks verify: error: no webhook secret: pass --secret whsec_... or set "
        "BYOURSIDE_WEBHOOK_SECRET"
    )


def _listening_url(process: subprocess.Popen[bytes]) -> str:
    assert process.stderr is not None
    first = process.stderr.readline().decode()
    assert first.startswith("listening on http://127.0.0.1:"), first
    return first.split()[2]


def _post(url: str, body: bytes, signature: str | None) -> tuple[int, dict[str, object]]:
    parts = urlsplit(url)
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-BYS-Signature"] = signature
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        connection.request("POST", parts.path, body=body, headers=headers)
        reply = connection.getresponse()
        return reply.status, json.loads(reply.read())
    finally:
        connection.close()


def test_listen_verifies_the_fake_servers_deliveries_and_rejects_a_forgery(server: FakeServer) -> None:
    process = start(
        ["webhooks", "listen", "--host", "127.0.0.1", "--port", "0", "--secret", SECRET, "--max-events", "2"]
    )
    url = _listening_url(process)
    assert _post(url, EVENT, sign_webhook(EVENT, "whsec_someone_else")) == (
        400,
        {"error": "invalid_signature", "reason": "signature_mismatch"},
    )
    with Client(KEY, server.base_url) as client:
        placed = client.place_call(
            "+14155550123", "Confirm", fields=[{"name": "confirmed", "type": "boolean"}], webhook_url=url
        )
    done = finish(process)  # exits by itself after the call's two events
    assert done.code == ExitCode.OK, done.stderr
    deliveries = server.wait_for_webhooks()
    mine = [delivery for delivery in deliveries if delivery.call_id == placed.call_id]
    assert [(d.event, d.status_code) for d in mine] == [("call.in_progress", 200), ("call.completed", 200)]
    lines = done.stdout.splitlines()
    assert lines[0] == f"call.in_progress {mine[0].event_id} call {placed.call_id} status in_progress"
    assert lines[1] == f"call.completed {mine[1].event_id} call {placed.call_id} status completed"
    assert lines[2].startswith("  summary: The callee was reached")
    assert lines[3:] == ["  extracted:", "    confirmed=true"]
    assert done.stderr.splitlines()[0].startswith("rejected (400): signature_mismatch: ")


def test_listen_json_prints_one_event_a_line_until_ctrl_c() -> None:
    process = start(["webhooks", "listen", "--port", "0", "--json"], env={"BYOURSIDE_WEBHOOK_SECRET": SECRET})
    url = _listening_url(process)
    signature = sign_webhook(EVENT, SECRET)
    assert _post(url, EVENT, signature) == (200, {"received": True})
    assert _post(url, EVENT, signature) == (200, {"received": True})  # a redelivery is answered 2xx too
    assert _post(url, EVENT, None) == (400, {"error": "invalid_signature", "reason": "missing_header"})
    process.send_signal(signal.SIGINT)
    done = finish(process)
    assert done.code == ExitCode.INTERRUPTED
    printed = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line.pop("redelivery") for line in printed] == [False, True]
    events = [WebhookEvent.model_validate(line) for line in printed]
    assert [event.event_id for event in events] == ["evt_cli_1", "evt_cli_1"]
    assert events[0].to_wire() == json.loads(EVENT)
    rejected, interrupted = done.stderr.splitlines()  # after the "listening on" line read above
    assert rejected.startswith("rejected (400): missing_header: No X-BYS-Signature header")
    assert interrupted == "interrupted"


def _readme_section() -> str:
    return README.read_text(encoding="utf-8").split("## Command line", 1)[1].split("\n## ", 1)[0]


def _blocks(section: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", section, flags=re.DOTALL)


def test_every_readme_command_line_parses() -> None:
    section = _readme_section()
    lines = [line for block in _blocks(section, "bash") for line in block.splitlines()]
    lines += re.findall(r"^\| `(byourside [^`]+)`", section, flags=re.MULTILINE)
    commands = [
        re.sub(r"^call_id=\$\(|\).*$| [<>|] .*$| &$", "", line) for line in lines if "byourside " in line
    ]
    assert len(commands) >= 14
    for command in commands:
        words = shlex.split(command.replace("[", "").replace("]", "").replace("...", "+14155550123"))
        assert words[0] == "byourside", command
        build_parser().parse_args(words[1:])  # a usage error raises
