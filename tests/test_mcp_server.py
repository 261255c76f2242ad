"""`byourside mcp` driven by the `mcp` package's own client (ClientSession over stdio, the server a
subprocess) against a FakeServer: the tools and their schemas, a call placed, waited and read
back, every policy refusal with nothing stored, an uncertain placement reported and never
retried, and the key in no message."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mcp")

from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.types import CallToolResult, TextContent

from byourside.testing import FakeServer

pytestmark = pytest.mark.anyio

API_KEY = "bys_ak_mcp_suite_9Zq_SECRET_feed"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer(api_key=API_KEY, instant=True) as fake:
        yield fake


@contextlib.asynccontextmanager
async def mcp_session(fake: FakeServer, *options: str, stderr_path: Path) -> AsyncIterator[ClientSession]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BYOURSIDE_")}
    env["BYOURSIDE_API_KEY"] = API_KEY
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "byourside", "mcp", "--base-url", fake.base_url, *options],
        env=env,
    )
    with stderr_path.open("w") as errlog:
        async with (
            stdio_client(params, errlog=errlog) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            yield session


def text_of(result: CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if isinstance(block, TextContent))


def error_of(result: CallToolResult) -> dict[str, Any]:
    assert result.is_error, text_of(result)
    assert result.structured_content is not None
    error = result.structured_content["error"]
    assert isinstance(error, dict)
    return error


def everything_said(results: list[CallToolResult], stderr_path: Path) -> str:
    parts = [stderr_path.read_text()]
    for result in results:
        parts.append(text_of(result))
        parts.append(json.dumps(result.structured_content))
    return "\n".join(parts)


async def test_tools_and_schemas_come_from_the_spec(server: FakeServer, tmp_path: Path) -> None:
    async with mcp_session(
        server, "--allow", "+1415555*", "--max-wait", "120", stderr_path=tmp_path / "err"
    ) as s:
        tools = {tool.name: tool for tool in (await s.list_tools()).tools}
    assert set(tools) == {"place_call", "get_call", "list_calls", "wait_for_call"}
    place = tools["place_call"].input_schema
    assert place["required"] == ["to", "objective"]
    schema_text = json.dumps(place)
    assert "^\\\\+[1-9][0-9]{1,14}$" in schema_text  # E.164, from the spec
    fields = place["properties"]["fields"]["anyOf"][0]
    assert fields["maxItems"] == 20
    assert '"enum": ["string", "boolean", "number"]' in schema_text
    assert tools["place_call"].annotations is not None
    assert tools["place_call"].annotations.destructive_hint
    wait = tools["wait_for_call"].input_schema["properties"]["timeout"]
    assert wait["maximum"] == 120
    assert tools["list_calls"].input_schema["properties"]["limit"]["maximum"] == 100


async def test_a_call_placed_waited_and_read_back(server: FakeServer, tmp_path: Path) -> None:
    err = tmp_path / "err"
    async with mcp_session(server, "--allow", "+1415555*", stderr_path=err) as s:
        placed = await s.call_tool(
            "place_call",
            {
                "to": "+14155550123",
                "objective": "Confirm tomorrow's 2pm appointment",
                "fields": [{"name": "confirmed", "type": "boolean"}, {"name": "new_time"}],
            },
        )
        assert not placed.is_error, text_of(placed)
        assert placed.structured_content is not None
        call_id = placed.structured_content["callId"]
        waited = await s.call_tool("wait_for_call", {"call_id": call_id, "timeout": 30})
        got = await s.call_tool("get_call", {"call_id": call_id})
        listed = await s.call_tool("list_calls", {"limit": 5})
    assert server.count_calls() == 1
    for result in (waited, got):
        assert not result.is_error, text_of(result)
        assert result.structured_content is not None
        assert result.structured_content["id"] == call_id
        assert result.structured_content["status"] == "completed"
        assert result.structured_content["extracted"]["confirmed"] is True
        assert "confirmed=True" in text_of(result)
    assert listed.structured_content is not None
    assert [c.get("callId", c.get("id")) for c in listed.structured_content["calls"]] == [call_id]
    sent = server.requests[0]
    assert json.loads(sent.body)["fields"] == [
        {"name": "confirmed", "type": "boolean"},
        {"name": "new_time", "type": "string"},
    ]
    assert API_KEY not in everything_said([placed, waited, got, listed], err)


async def test_policy_refusals_place_nothing(server: FakeServer, tmp_path: Path) -> None:
    err = tmp_path / "err"
    results: list[CallToolResult] = []
    async with mcp_session(
        server,
        "--allow",
        "+1415555*,+442071234567",
        "--max-calls",
        "2",
        "--max-calls-per-number-per-day",
        "1",
        "--max-wait",
        "60",
        stderr_path=err,
    ) as s:

        async def place(to: str) -> CallToolResult:
            result = await s.call_tool("place_call", {"to": to, "objective": "Confirm the appointment"})
            results.append(result)
            return result

        off_list = await place("+14155560123")
        assert error_of(off_list)["code"] == "destination_not_allowed"
        assert server.count_calls() == 0
        assert not (await place("+14155550123")).is_error
        same_number = await place("+14155550123")
        assert error_of(same_number)["code"] == "daily_cap_reached"
        blocked_by_sdk = await place("+1415555")  # on the list as a prefix match, but not E.164
        assert blocked_by_sdk.is_error
        assert not (await place("+442071234567")).is_error
        over_session = await place("+14155550999")
        assert error_of(over_session)["code"] == "session_cap_reached"
        too_long = await s.call_tool("wait_for_call", {"call_id": "x", "timeout": 61})
        results.append(too_long)
        assert too_long.is_error
        assert "60" in text_of(too_long)
    assert server.count_calls() == 2
    assert API_KEY not in everything_said(results, err)


async def test_no_allow_list_refuses_placement_but_reads_work(server: FakeServer, tmp_path: Path) -> None:
    async with mcp_session(server, stderr_path=tmp_path / "err") as s:
        refused = await s.call_tool("place_call", {"to": "+14155550123", "objective": "Confirm"})
        listed = await s.call_tool("list_calls", {})
    assert error_of(refused)["code"] == "no_allow_list"
    assert not listed.is_error
    assert server.count_calls() == 0
    assert len(server.requests) == 1  # the list, nothing else


async def test_dry_run_reports_and_places_nothing(server: FakeServer, tmp_path: Path) -> None:
    async with mcp_session(server, "--allow", "+1415555*", "--dry-run", stderr_path=tmp_path / "err") as s:
        result = await s.call_tool(
            "place_call",
            {"to": "+14155550123", "objective": "Confirm", "fields": [{"name": "ok", "type": "boolean"}]},
        )
    assert not result.is_error
    assert result.structured_content == {
        "dryRun": True,
        "wouldPlace": {
            "to": "+14155550123",
            "objective": "Confirm",
            "fields": [{"name": "ok", "type": "boolean"}],
        },
    }
    assert server.requests == []


async def test_an_uncertain_placement_is_reported_and_never_retried(
    server: FakeServer, tmp_path: Path
) -> None:
    err = tmp_path / "err"
    server.inject("post", "drop_after_store")
    async with mcp_session(server, "--allow", "+1415555*", "--max-calls", "1", stderr_path=err) as s:
        uncertain = await s.call_tool("place_call", {"to": "+14155550123", "objective": "Confirm"})
        again = await s.call_tool("place_call", {"to": "+14155550124", "objective": "Confirm"})
    error = error_of(uncertain)
    assert error["code"] == "network_error"
    assert error["may_have_placed"] is True
    assert "list_calls" in text_of(uncertain)
    assert sum(1 for r in server.requests if r.method == "POST") == 1
    assert server.count_calls() == 1  # the person was dialled once, and the slot stays taken
    assert error_of(again)["code"] == "session_cap_reached"
    assert API_KEY not in everything_said([uncertain, again], err)


def _run_mcp(
    *args: str, preamble: str = "", env_key: str | None = API_KEY
) -> subprocess.CompletedProcess[str]:
    code = f"import sys\n{preamble}\nfrom byourside._mcp import run\nsys.exit(run(sys.argv[1:]))"
    env = {k: v for k, v in os.environ.items() if not k.startswith("BYOURSIDE_")}
    if env_key is not None:
        env["BYOURSIDE_API_KEY"] = env_key
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )


def test_without_the_extra_one_line_names_it() -> None:
    done = _run_mcp("--allow", "+1415555*", preamble="sys.modules['mcp'] = None")
    assert done.returncode == 1
    assert (
        done.stderr.strip()
        == "error: mcp_not_installed: byourside mcp needs the optional extra: pip install 'byourside[mcp]'"
    )


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--allow", "14155550123"], "allow-list entry"),
        (["--allow", "+1415*555"], "allow-list entry"),
        (["--max-calls", "-1"], "max_calls"),
        (["--max-wait", "nan"], "max_wait"),
    ],
)
def test_a_bad_policy_is_refused_at_start(args: list[str], needle: str) -> None:
    done = _run_mcp(*args)
    assert done.returncode == 2
    assert done.stderr.startswith("error: invalid_policy:")
    assert needle in done.stderr


def test_a_policy_file_with_an_unknown_key_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "policy.json"
    config.write_text(json.dumps({"allow": ["+1415555*"], "max_call": 3}))
    done = _run_mcp("--config", str(config))
    assert done.returncode == 2
    assert "max_call" in done.stderr


def test_no_key_is_one_line_and_never_a_traceback() -> None:
    done = _run_mcp("--allow", "+1415555*", env_key=None)
    assert done.returncode == 1
    assert done.stderr.startswith("error: no_api_key:")
    assert "Traceback" not in done.stderr


def test_importing_byourside_and_the_cli_never_loads_mcp() -> None:
    code = "import sys, byourside, byourside._cli, byourside._mcp; print('mcp' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "False"
