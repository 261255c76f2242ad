"""Every example of the README's "Command line" section, run as written against a
``byourside fake-server`` process, its output compared with the README's, ids and times aside.

The README cannot drift: a sample output that the command does not print fails here. Only the
port (a free one, not 12111 or 8000), the poll interval (calls on the fake end in a fraction of a
second) and the fake's speed differ from what a reader types.
"""

from __future__ import annotations

import re
import shlex
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from byourside._cli import ExitCode
from tests.cli_support import SCRIPT, FakeServerProcess, assert_no_secret, finish, start, start_fake_server

README = Path(__file__).resolve().parent.parent / "README.md"
FAST_POLL = "--interval 0.05"


def blocks() -> list[tuple[str, str]]:
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Command line\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```(\w+)\n(.*?)```", section, flags=re.DOTALL)


def normalised(text: str) -> list[str]:
    """`text`'s lines with ids, times, ports and the README's ``...`` abridgements made alike."""
    text = re.sub(r"\b(call|evt)_[0-9a-f]+(\.\.\.)?", r"\1_ID", text)
    text = re.sub(r"elapsed: +\d+\.\d s", "elapsed: T s", text)
    text = re.sub(r"\d[\d.]* s old", "N s old", text)
    text = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", text)
    return [line.rstrip() for line in text.splitlines() if line.strip()]


def assert_shows(output: str, sample: str) -> None:
    """Each line of the README's `sample` is a line of `output`, in the same order (the output may
    have more: one status line per change when stderr is not a terminal, say)."""
    shown = normalised(output)
    position = 0
    for line in normalised(sample):
        assert line in shown[position:], f"README line {line!r} not in the output:\n{output}"
        position = shown.index(line, position) + 1


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeServerProcess]:
    first, printed = blocks()[0][1], blocks()[1]
    assert first.splitlines()[0] == "byourside fake-server --port 12111 &"
    server = start_fake_server(
        argv=[str(SCRIPT), "fake-server", "--port", "0", "--ring-seconds", "0.05", "--talk-seconds", "0.1"]
    )
    try:
        port = server.settings["BYOURSIDE_BASE_URL"].rsplit(":", 1)[1]
        assert printed[0] == "text"
        assert printed[1].replace("12111", port).splitlines() == [
            f"{k}={v}" for k, v in server.settings.items()
        ]
        exported = dict(word.split("=", 1) for word in shlex.split(first.splitlines()[1])[1:])
        assert {k: v.replace("12111", port) for k, v in exported.items()} == server.env
        yield server
    finally:
        server.process.send_signal(signal.SIGTERM)
        server.process.communicate(timeout=30)
    assert server.process.returncode == 0


def shell(script: str, fake: FakeServerProcess, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    script = script.replace("--wait", f"--wait {FAST_POLL}").replace(
        'wait "$call_id"', f'wait "$call_id" {FAST_POLL}'
    )
    done = subprocess.run(
        ["/bin/bash", "-euo", "pipefail", "-c", script],
        cwd=cwd,
        env={**fake.env, "PATH": f"{SCRIPT.parent}:/usr/bin:/bin", **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=120,
        check=False,
    )
    assert "Traceback" not in done.stdout
    return done


def example(containing: str) -> tuple[str, str | None]:
    """The bash block holding `containing` and the text block right after it, if any."""
    found = blocks()
    for index, (language, text) in enumerate(found):
        if language == "bash" and containing in text:
            after = found[index + 1] if index + 1 < len(found) else ("", "")
            return text, after[1] if after[0] == "text" else None
    raise AssertionError(f"no README example with {containing!r}")


def test_the_call_example_prints_what_the_readme_shows(fake: FakeServerProcess, tmp_path: Path) -> None:
    script, sample = example("--field confirmed:boolean --field")
    assert sample is not None
    done = shell(script, fake, tmp_path)
    assert done.returncode == ExitCode.OK, done.stdout
    assert_shows(done.stdout, sample)


def test_the_json_and_jq_examples_print_what_the_readme_shows(
    fake: FakeServerProcess, tmp_path: Path
) -> None:
    script, sample = example("jq -r .callId")
    assert sample is not None
    done = shell(script, fake, tmp_path)
    assert done.returncode == ExitCode.OK, done.stdout
    assert_shows(done.stdout, sample)
    assert '"callId"' in (tmp_path / "result.json").read_text(encoding="utf-8")


def test_the_verify_example_prints_what_the_readme_shows(fake: FakeServerProcess, tmp_path: Path) -> None:
    script, sample = example("webhooks verify")
    assert sample is not None
    (tmp_path / "body.json").write_text('{"event": "call.completed", "callId": "call_1"}', encoding="utf-8")
    done = shell(script, fake, tmp_path, BYOURSIDE_WEBHOOK_SECRET=fake.settings["BYOURSIDE_WEBHOOK_SECRET"])
    assert done.returncode == ExitCode.WEBHOOK_REJECTED
    assert_shows(done.stdout, sample)
    assert len(done.stdout.splitlines()) == 1


def test_the_listen_example_receives_the_calls_events(fake: FakeServerProcess, tmp_path: Path) -> None:
    listen_script, _ = example("webhooks listen")
    call_script, sample = example("--webhook-url http://127.0.0.1:8000/")
    assert sample is not None
    words = shlex.split(listen_script.replace("--port 8000", "--port 0"))
    receiver = start([*words[1:], "--max-events", "2"], key=None, env=fake.env)
    assert receiver.stderr is not None
    listening = receiver.stderr.readline().decode()  # a condition: it is listening once it says so
    url = listening.split()[2]
    port = url.rsplit(":", 1)[1].strip("/")
    placed = shell(call_script.replace("8000", port), fake, tmp_path)
    assert placed.returncode == ExitCode.OK, placed.stdout
    done = finish(receiver)
    assert done.code == ExitCode.OK, done.stderr
    assert_shows(listening + done.stdout, sample)
    assert len(normalised(done.stdout)) == len(normalised(sample)) - 1
    assert_no_secret(done.stdout)
