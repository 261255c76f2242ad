"""The README's "Batch calling" section, run: its Python example and its ``byourside batch`` example,
against a FakeServer, with the output the README shows."""

from __future__ import annotations

import contextlib
import csv
import io
import os
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest

from byourside.testing import FakeServer
from tests.cli_support import KEY, SCRIPT, environment

ROOT = Path(__file__).resolve().parent.parent


def section() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("\n## Batch calling\n")
    return readme[start : readme.index("\n## ", start + 1)]


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", section(), flags=re.DOTALL)


def test_the_python_example_prints_what_the_readme_shows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    example = blocks("python")[0]
    shown = blocks("text")[0].splitlines()
    monkeypatch.chdir(tmp_path)
    with FakeServer(api_key=KEY, instant=True) as server:
        monkeypatch.setenv("BYOURSIDE_API_KEY", KEY)
        monkeypatch.setenv("BYOURSIDE_BASE_URL", server.base_url)
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(compile(example, "README.md", "exec"), {"__name__": "readme"})  # noqa: S102 - the README's own code
        assert server.count_calls() == 2
    assert sorted(printed.getvalue().splitlines()) == sorted(shown)  # results come as calls end
    assert (tmp_path / "appointments.jsonl").exists()


def test_the_stopping_example_places_nothing_after_stop_and_reports_every_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stopping = blocks("python")[1]
    assert "results.stop()" in stopping
    monkeypatch.chdir(tmp_path)
    with FakeServer(api_key=KEY, instant=True) as server:
        monkeypatch.setenv("BYOURSIDE_API_KEY", KEY)
        monkeypatch.setenv("BYOURSIDE_BASE_URL", server.base_url)
        namespace: dict[str, Any] = {"__name__": "readme"}
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(stopping, "README.md", "exec"), namespace)  # noqa: S102 - the README's own code
        placed = server.count_calls()
    outcomes = namespace["outcomes"]
    assert sum(outcomes.values()) == 40  # every item reported once
    assert set(outcomes) == {"completed", "not_placed"}
    assert outcomes["completed"] == placed  # every placed call reported, followed to its end
    assert 10 <= placed < 40


def test_the_command_line_example_writes_the_results_the_readme_shows(tmp_path: Path) -> None:
    [command] = blocks("bash")
    rows, results = blocks("text")[1:3]
    (tmp_path / "rows.csv").write_text(rows, encoding="utf-8")
    words = shlex.split(command)
    assert words[0] == "byourside"
    with FakeServer(api_key=KEY, instant=True) as server:
        done = subprocess.run(
            [str(SCRIPT), *words[1:], "--interval", "0.02"],
            cwd=tmp_path,
            env=environment(server),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 1, done.stderr  # Eve's row was refused: it needs a look
    written = list(csv.reader((tmp_path / "results.csv").read_text(encoding="utf-8").splitlines()))
    expected = list(csv.reader(results.splitlines()))
    assert written[0] == expected[0]
    call_id = expected[0].index("call_id")
    for got, shown in zip(written[1:], expected[1:], strict=True):
        assert bool(got[call_id]) == bool(shown[call_id])  # ids differ each run; the README cuts them
        assert got[call_id][:5] == shown[call_id][:5]
        assert got[:call_id] + got[call_id + 1 :] == shown[:call_id] + shown[call_id + 1 :]
    assert os.path.exists(tmp_path / "run.jsonl")
