"""``python -m byourside demo``: the quick start on an in-process FakeServer, no key, no network."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from typing import Any

import pytest

from byourside._demo import DEMO_OBJECTIVE, run_demo
from byourside.testing import TEST_NUMBERS

FAST: dict[str, Any] = {"ring_seconds": 0.02, "talk_seconds": 0.02, "poll_interval": 0.01}


def test_the_demo_prints_progress_then_the_final_status_summary_and_values() -> None:
    out = io.StringIO()
    assert run_demo(out, in_place=False, **FAST) == 0
    text = out.getvalue()
    assert "\r" not in text
    lines = text.splitlines()
    progress = [line for line in lines if line.startswith("  status:")]
    assert progress[0].split()[1] == "queued"
    assert progress[-1].split()[1] == "completed"
    assert all(re.fullmatch(r"  status: \w+\s+elapsed: +\d+\.\d s", line) for line in progress)
    assert f"Objective: {DEMO_OBJECTIVE}" in lines
    assert "Final status: completed" in lines
    assert any(line.startswith("Summary: The callee was reached") for line in lines)
    assert lines[-2:] == ["  confirmed=true", "  new_time=tomorrow at 3pm"]  # name=value, as `get`


def test_on_a_terminal_the_progress_stays_on_one_line() -> None:
    out = io.StringIO()
    assert run_demo(out, in_place=True, **FAST) == 0
    progress_line = next(line for line in out.getvalue().split("\n") if "status:" in line)
    updates = progress_line.split("\r")[1:]
    assert updates[0].split()[1] == "queued"
    assert updates[-1].split()[1] == "completed"
    assert len({len(update) for update in updates}) == 1  # each overwrites the last exactly


@pytest.mark.parametrize(("number", "status"), [(TEST_NUMBERS["voicemail"], "voicemail")])
def test_the_demo_can_dial_any_test_number(number: str, status: str) -> None:
    out = io.StringIO()
    assert run_demo(out, in_place=False, to=number, **FAST) == 11  # as `call --wait` exits
    assert f"Final status: {status}" in out.getvalue()
    assert "  confirmed=null" in out.getvalue()


def test_an_error_is_one_line_on_stderr_as_every_command_prints_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = io.StringIO()
    assert run_demo(out, in_place=True, to=TEST_NUMBERS["never_ends"], timeout=0.3, **FAST) == 3
    err = capsys.readouterr().err
    assert err.startswith("error: timeout: ")
    assert err.count("\n") == 1
    assert "Final status" not in out.getvalue()
    assert out.getvalue().endswith("\n")


def test_python_m_byourside_demo_runs_the_readme_first_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "byourside", "demo"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "Final status: completed" in done.stdout
    assert "  confirmed=true" in done.stdout
    assert "\r" not in done.stdout  # not a terminal: plain lines
    assert done.stderr == ""


def test_python_m_byourside_without_a_command_shows_usage() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "byourside"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2
    assert "usage: python -m byourside" in done.stderr
    assert (
        "demo"
        in subprocess.run(
            [sys.executable, "-m", "byourside", "--help"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
    )


def test_the_demo_model_derives_the_seed_fields() -> None:
    from byourside._demo import DEMO_FIELDS, DemoAppointment
    from byourside._extraction import fields_from_model

    assert [spec.to_wire() for spec in fields_from_model(DemoAppointment)] == DEMO_FIELDS
