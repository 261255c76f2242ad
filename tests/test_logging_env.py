"""`BYOURSIDE_LOG=debug|info` puts the `byourside` logger's records on stderr, read once at import,
and never shows the API key. Each case runs a fresh interpreter, since the variable is read at import."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest

from byourside._logging import HANDLER_NAME, configure_from_env, logger

KEY = "bys_ak_log_test_3f9c1e7d5b"

# Places a call and reads it back from a FakeServer whose first GET fails once with a retryable 503.
PROGRAM = textwrap.dedent(
    f"""
    import os
    from byourside import Client
    from byourside.testing import FakeServer

    with FakeServer(api_key={KEY!r}, ring_seconds=0, talk_seconds=0) as server:
        server.inject("get", "store_error", retry_after=0)
        os.environ.pop("BYOURSIDE_LOG", None)  # read at import only: unsetting it now changes nothing
        with Client(api_key=server.api_key, base_url=server.base_url) as client:
            placed = client.place_call(to="+14155550123", objective="Confirm the appointment.")
            client.get_call(placed.call_id)
        print("done", placed.call_id)
    """
)


def run(program: str, log: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "BYOURSIDE_LOG"}
    if log is not None:
        env["BYOURSIDE_LOG"] = log
    result = subprocess.run(
        [sys.executable, "-c", program], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    return result


def call_id(result: subprocess.CompletedProcess[str]) -> str:
    return result.stdout.split()[-1]


@pytest.mark.parametrize("value", ["debug", "DEBUG"])
def test_debug_shows_each_request_and_reply_and_the_retry_but_never_the_key(value: str) -> None:
    result = run(PROGRAM, value)
    err = result.stderr
    placed = call_id(result)
    assert " byourside DEBUG POST http://127.0.0.1:" in err
    assert "/v1/agent/calls -> HTTP 201 (" in err
    assert f"/v1/agent/calls/{placed} -> HTTP 503 (" in err
    assert f"/v1/agent/calls/{placed} -> HTTP 200 (" in err
    assert " byourside INFO Retrying " in err
    assert KEY not in err
    assert KEY not in result.stdout
    assert KEY[len("bys_ak_") :] not in err


def test_info_shows_the_retry_but_not_each_request() -> None:
    result = run(PROGRAM, "info")
    assert " byourside INFO Retrying " in result.stderr
    assert "DEBUG" not in result.stderr
    assert "HTTP 201" not in result.stderr
    assert KEY not in result.stderr


@pytest.mark.parametrize("value", [None, ""])
def test_unset_or_empty_writes_nothing(value: str | None) -> None:
    assert run(PROGRAM, value).stderr == ""


def test_set_after_import_changes_nothing() -> None:
    program = "import os, byourside.client\nos.environ['BYOURSIDE_LOG'] = 'debug'\n" + PROGRAM.replace(
        'os.environ.pop("BYOURSIDE_LOG", None)', "pass"
    )
    assert run(program, None).stderr == ""


def test_an_unknown_value_is_a_warning_not_a_failed_import() -> None:
    result = run("import byourside; print('imported')", "verbose")
    assert result.stdout == "imported\n"
    assert "RuntimeWarning: BYOURSIDE_LOG='verbose' is ignored: use debug or info" in result.stderr


@pytest.fixture
def pristine_logger() -> Iterator[None]:
    handlers, level = list(logger.handlers), logger.level
    yield
    logger.handlers[:] = handlers
    logger.setLevel(level)


@pytest.mark.usefixtures("pristine_logger")
def test_configuring_twice_adds_one_handler_and_keeps_propagation() -> None:
    assert configure_from_env({"BYOURSIDE_LOG": "info"}) == logging.INFO
    assert configure_from_env({"BYOURSIDE_LOG": " Debug "}) == logging.DEBUG
    assert [h.get_name() for h in logger.handlers].count(HANDLER_NAME) == 1
    assert logger.level == logging.DEBUG
    assert logger.propagate
    assert configure_from_env({}) is None


ASYNC_PROGRAM = textwrap.dedent(
    f"""
    import asyncio
    from byourside import AsyncClient
    from byourside.testing import FakeServer

    async def main(server: FakeServer) -> str:
        async with AsyncClient(api_key=server.api_key, base_url=server.base_url) as client:
            placed = await client.place_call(to="+14155550123", objective="Confirm the appointment.")
            await client.get_call(placed.call_id)
            return placed.call_id

    with FakeServer(api_key={KEY!r}, ring_seconds=0, talk_seconds=0) as server:
        print("done", asyncio.run(main(server)))
    """
)


def test_the_async_client_logs_the_same_way() -> None:
    result = run(ASYNC_PROGRAM, "debug")
    placed = call_id(result)
    assert "/v1/agent/calls -> HTTP 201 (" in result.stderr
    assert f"/v1/agent/calls/{placed} -> HTTP 200 (" in result.stderr
    assert KEY not in result.stderr
