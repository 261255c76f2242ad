"""Run the real ``byourside`` console script (or ``python -m byourside``) in a subprocess.

Every run made through these helpers is checked for the test key and webhook secret: neither may
appear on stdout or stderr, whatever the command and however it ends.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from byourside.testing import FakeServer

SCRIPT = Path(sys.executable).with_name("byourside")
KEY = "bys_ak_cli_test_key_7f3e9a41_never_printed"
SECRET = "whsec_cli_test_secret_4b1d93"
FAST = ["--interval", "0.02"]
"""Poll options for waits against the fast FakeServer (calls end in about 0.1 s)."""

_LEAKS = (KEY, SECRET, KEY.removeprefix("bys_ak_"), SECRET.removeprefix("whsec_"))


@dataclass(frozen=True)
class Done:
    """A finished run: its exit status and both streams, decoded."""

    code: int
    stdout: str
    stderr: str


def command(module: bool = False) -> list[str]:
    """The console script installed next to this interpreter, or ``python -m byourside``."""
    return [sys.executable, "-m", "byourside"] if module else [str(SCRIPT)]


def environment(
    server: FakeServer | None = None, *, key: str | None = KEY, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The process environment without any BYOURSIDE_ variable, then the server's URL and `key`."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("BYOURSIDE_")}
    if server is not None:
        env["BYOURSIDE_BASE_URL"] = server.base_url
    if key is not None:
        env["BYOURSIDE_API_KEY"] = key
    env.update(extra or {})
    return env


def start(
    args: Sequence[str],
    server: FakeServer | None = None,
    *,
    module: bool = False,
    key: str | None = KEY,
    env: Mapping[str, str] | None = None,
    **popen: object,
) -> subprocess.Popen[bytes]:
    """Start a run without waiting for it (several can then run at once)."""
    return subprocess.Popen(  # type: ignore[call-overload, no-any-return]
        [*command(module), *args],
        env=environment(server, key=key, extra=env),
        stdin=popen.pop("stdin", subprocess.DEVNULL),
        stdout=popen.pop("stdout", subprocess.PIPE),
        stderr=popen.pop("stderr", subprocess.PIPE),
        **popen,
    )


def finish(process: subprocess.Popen[bytes], stdin: bytes | None = None) -> Done:
    """Wait for a run and check that no secret was printed."""
    out, err = process.communicate(stdin, timeout=60)
    done = Done(process.returncode, (out or b"").decode(), (err or b"").decode())
    assert_no_secret(done.stdout + done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    return done


def run(
    args: Sequence[str],
    server: FakeServer | None = None,
    *,
    stdin: bytes = b"",
    module: bool = False,
    key: str | None = KEY,
    env: Mapping[str, str] | None = None,
) -> Done:
    """Run the command to its end."""
    process = start(args, server, module=module, key=key, env=env, stdin=subprocess.PIPE)
    return finish(process, stdin)


def assert_no_secret(text: str) -> None:
    for secret in _LEAKS:
        assert secret not in text, f"a secret was printed: {text!r}"


@dataclass
class FakeServerProcess:
    """A ``byourside fake-server`` process and the settings it printed (``BYOURSIDE_*`` names)."""

    process: subprocess.Popen[bytes]
    settings: dict[str, str]

    @property
    def env(self) -> dict[str, str]:
        """The variables a command needs to talk to it."""
        return {name: self.settings[name] for name in ("BYOURSIDE_BASE_URL", "BYOURSIDE_API_KEY")}


def start_fake_server(args: Sequence[str] = (), *, argv: Sequence[str] | None = None) -> FakeServerProcess:
    """Start ``byourside fake-server --port 0 ARGS`` (or `argv`) and read the three settings lines
    it prints once it is serving: a condition, no sleep."""
    words = list(argv) if argv is not None else [*command(), "fake-server", "--port", "0", *args]
    process = subprocess.Popen(
        words, env=environment(key=None), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert process.stdout is not None
    settings: dict[str, str] = {}
    for _ in range(3):
        line = process.stdout.readline().decode().rstrip("\n")
        assert "=" in line, (line, process.poll())
        name, _, value = line.partition("=")
        settings[name] = value
    return FakeServerProcess(process, settings)
