"""The README's "Async" section, run: the short example, the async batch, the FastAPI service (its
endpoint places a call, its background task waits for it) and the pytest example, each against a
FakeServer."""

from __future__ import annotations

import asyncio
import contextlib
import io
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from byourside import AsyncClient
from byourside.testing import FakeServer
from tests.cli_support import KEY

ROOT = Path(__file__).resolve().parent.parent


def section() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("\n## Async\n")
    return readme[start : readme.index("\n## ", start + 1)]


def blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", section(), flags=re.DOTALL)


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Any:
    with FakeServer(api_key=KEY, instant=True) as fake:
        monkeypatch.setenv("BYOURSIDE_API_KEY", KEY)
        monkeypatch.setenv("BYOURSIDE_BASE_URL", fake.base_url)
        yield fake


def test_the_short_example_places_and_waits(server: FakeServer) -> None:
    short = blocks()[0]
    namespace: dict[str, Any] = {"__name__": "readme"}
    code = "async def main():\n" + textwrap.indent(short, "    ") + "    return done\n"
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - the README's own code
    done = asyncio.run(namespace["main"]())
    assert done.status == "completed"
    assert server.count_calls() == 1


def test_the_batch_example_reports_every_row(
    server: FakeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    batch = blocks()[1]
    rows = [{"to": f"+1415555{1000 + i:04d}", "objective": "Confirm"} for i in range(5)]
    namespace: dict[str, Any] = {"__name__": "readme", "rows": rows}
    code = "async def main(client):\n" + textwrap.indent(batch, "    ")
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - the README's own code

    async def run() -> None:
        async with AsyncClient() as client:
            await namespace["main"](client)

    printed = io.StringIO()
    monkeypatch.chdir(tmp_path)
    with contextlib.redirect_stdout(printed):
        asyncio.run(run())
    lines = printed.getvalue().splitlines()
    assert sorted(int(line.split()[0]) for line in lines) == list(range(5))
    assert all(line.split()[1] == "completed" for line in lines)
    assert (tmp_path / "run.jsonl").exists()
    assert server.count_calls() == 5


def test_the_fastapi_service_places_in_the_endpoint_and_waits_in_the_background(server: FakeServer) -> None:
    app_code = blocks()[2]
    namespace: dict[str, Any] = {"__name__": "readme_app"}
    exec(compile(app_code, "README.md", "exec"), namespace)  # noqa: S102 - the README's own code
    with TestClient(namespace["app"]) as http:
        accepted = http.post("/appointments/confirm", json={"phone": "+14155550123", "when": "tomorrow 2pm"})
        assert accepted.status_code == 202, accepted.text
        call_id = accepted.json()["call_id"]
        # TestClient returns once the background task (the wait) has run.
        answer = http.get(f"/appointments/{call_id}").json()
        refused = http.post("/appointments/confirm", json={"phone": "+1900555012", "when": "now"})
    assert answer["call_id"] == call_id
    assert answer["result"]["confirmed"] in (True, False)
    assert [c.call_id for c in server.calls] == [call_id]
    assert refused.status_code == 502
    assert refused.json()["detail"] in ("destination_blocked", "invalid_number")


def test_the_pytest_example_passes_with_the_plugin_fixture(tmp_path: Path) -> None:
    test_file = tmp_path / "test_readme_async.py"
    test_file.write_text("import pytest\n\n\n" + blocks()[3], encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test_file)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout
