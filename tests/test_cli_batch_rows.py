"""``byourside batch`` checks every row before the first call: bad rows are refused (or skipped).

For every bad input the FakeServer saw no request and stored no call, and neither the results
nor the journal was written: a broken objective is never dialled.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest

from byourside._cli import ExitCode
from byourside.testing import FakeServer
from tests.cli_support import FAST, KEY, run

OBJECTIVE = "Confirm the appointment for {name}"


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer(api_key=KEY, instant=True) as fake:
        yield fake


def batch_args(rows: Path, *extra: str) -> list[str]:
    return [
        "batch",
        str(rows),
        "--objective",
        OBJECTIVE,
        "--journal",
        str(rows.with_name("run.jsonl")),
        "--out",
        str(rows.with_name("results.csv")),
        *FAST,
        *extra,
    ]


def assert_nothing_placed(server: FakeServer, rows: Path) -> None:
    assert server.calls == []
    assert server.requests == []
    assert not rows.with_name("results.csv").exists()
    assert not rows.with_name("run.jsonl").exists()


@pytest.mark.parametrize(
    ("text", "messages"),
    [
        # Fewer cells than the header: the objective would have read "Confirm the appointment for ".
        ("to,name\n+14155552001,Ann\n+14155552002\n", ["line 3: 1 cells, fewer than the 2 columns"]),
        ("to,name\n+14155552001,Ann,extra\n", ["line 2: 3 cells, more than the 2 columns"]),
        ("to,name\n+14155552001,\n", ["line 2: --objective needs 'name', empty on this row"]),
        ("to,name\n+14155552001,   \n", ["line 2: --objective needs 'name', empty on this row"]),
        ("to,name\n,Ann\n", ["line 2: no number in the `to` column"]),
        # An unclosed quote would swallow the next line into Ann's value.
        ('to,name\n+14155552001,"Ann\n+14155552002,Bob\n', ["line 2: unexpected end of data"]),
        ('to,name\n+14155552001,"Ann"x\n', ["line 2: ',' expected after '\"'"]),
        (
            "to,name\n+14155552001,Ann\n+14155552002,Bob\n+14155552001,Ann\n",
            ["line 4: repeats line 2 (the same `to`, objective and context)"],
        ),
        (
            "to,name\n+14155552001,Ann\n\n,Bob\n+14155552003\n",
            ["line 4: no number", "line 5: 1 cells", "2 row(s) cannot be placed; nothing was placed"],
        ),
    ],
    ids=[
        "fewer-cells",
        "more-cells",
        "empty-value",
        "blank-value",
        "no-to",
        "unclosed-quote",
        "text-after-quote",
        "duplicate",
        "several",
    ],
)
def test_a_bad_row_is_refused_with_its_line_and_nothing_is_placed(
    server: FakeServer, tmp_path: Path, text: str, messages: list[str]
) -> None:
    rows = tmp_path / "rows.csv"
    rows.write_text(text, encoding="utf-8")
    done = run(batch_args(rows), server)
    assert done.code == ExitCode.USAGE, done.stderr
    for message in messages:
        assert message in done.stderr, done.stderr
    assert_nothing_placed(server, rows)


def test_the_context_template_is_checked_too(server: FakeServer, tmp_path: Path) -> None:
    rows = tmp_path / "rows.csv"
    rows.write_text("to,name,clinic\n+14155552001,Ann,\n", encoding="utf-8")
    done = run(batch_args(rows, "--context", "Calling for {clinic}"), server)
    assert done.code == ExitCode.USAGE
    assert "line 2: --context needs 'clinic', empty on this row" in done.stderr
    assert_nothing_placed(server, rows)


def test_rows_differing_only_in_context_are_not_duplicates(server: FakeServer, tmp_path: Path) -> None:
    rows = tmp_path / "rows.csv"
    rows.write_text("to,name,clinic\n+14155552001,Ann,North\n+14155552001,Ann,South\n", encoding="utf-8")
    done = run(batch_args(rows, "--context", "For {clinic}"), server)
    assert done.code == ExitCode.OK, done.stderr
    assert sorted(call.context or "" for call in server.calls) == ["For North", "For South"]


def test_allow_duplicates_places_both_rows(server: FakeServer, tmp_path: Path) -> None:
    rows = tmp_path / "rows.csv"
    rows.write_text("to,name\n+14155552001,Ann\n+14155552001,Ann\n", encoding="utf-8")
    done = run(batch_args(rows, "--allow-duplicates"), server)
    assert done.code == ExitCode.OK, done.stderr
    assert [call.to for call in server.calls] == ["+14155552001", "+14155552001"]


def test_skip_bad_rows_places_the_others_and_reports_each_skipped_row(
    server: FakeServer, tmp_path: Path
) -> None:
    rows = tmp_path / "rows.csv"
    rows.write_text(
        "to,name\n+14155552001,Ann\n+14155552002\n+14155552003,Cy\n+14155552001,Ann\n,Dee\n", encoding="utf-8"
    )
    done = run(batch_args(rows, "--skip-bad-rows"), server)
    assert done.code == ExitCode.API_ERROR, done.stderr  # skipped rows need a look
    assert sorted(call.objective or "" for call in server.calls) == [
        "Confirm the appointment for Ann",
        "Confirm the appointment for Cy",
    ]
    with rows.with_name("results.csv").open(encoding="utf-8", newline="") as file:
        results = list(csv.DictReader(file))
    assert [(r["to"], r["status"], r["error_code"]) for r in results] == [
        ("+14155552001", "completed", ""),
        ("+14155552002", "skipped", "invalid_row"),
        ("+14155552003", "completed", ""),
        ("+14155552001", "skipped", "duplicate_row"),
        ("", "skipped", "invalid_row"),
    ]
    assert results[1]["error_message"].startswith("line 3: 1 cells, fewer than the 2 columns")
    assert results[3]["error_message"].startswith("line 5: repeats line 2")
    assert results[4]["error_message"] == "line 6: no number in the `to` column"
    assert "skipped line 3: 1 cells" in done.stderr
    assert "5 rows: completed 2, skipped 3" in done.stderr


def test_skip_bad_rows_cannot_skip_a_quoting_error(server: FakeServer, tmp_path: Path) -> None:
    rows = tmp_path / "rows.csv"
    rows.write_text('to,name\n+14155552001,"Ann\n+14155552002,Bob\n', encoding="utf-8")
    done = run(batch_args(rows, "--skip-bad-rows"), server)
    assert done.code == ExitCode.USAGE
    assert "unexpected end of data" in done.stderr
    assert_nothing_placed(server, rows)


@pytest.mark.parametrize("option", ["--out", "--journal"])
def test_results_or_journal_naming_the_input_is_refused(
    server: FakeServer, tmp_path: Path, option: str
) -> None:
    rows = tmp_path / "rows.csv"
    text = "to,name\n+14155552001,Ann\n"
    rows.write_text(text, encoding="utf-8")
    args = batch_args(rows)
    args[args.index(option) + 1] = str(tmp_path / "." / "rows.csv")
    done = run(args, server)
    assert done.code == ExitCode.USAGE
    assert f"{option} " in done.stderr
    assert "is the input file: it would be overwritten" in done.stderr
    assert rows.read_text(encoding="utf-8") == text
    assert server.requests == []
    assert server.calls == []


def test_results_and_journal_in_one_file_is_refused(server: FakeServer, tmp_path: Path) -> None:
    rows = tmp_path / "rows.csv"
    rows.write_text("to,name\n+14155552001,Ann\n", encoding="utf-8")
    args = batch_args(rows)
    args[args.index("--out") + 1] = str(tmp_path / "run.jsonl")
    done = run(args, server)
    assert done.code == ExitCode.USAGE
    assert "--out and --journal are the same file" in done.stderr
    assert_nothing_placed(server, rows)


@pytest.mark.parametrize(
    ("journal", "why"), [("missing/run.jsonl", "there is no directory"), (".", "a directory")]
)
def test_an_unwritable_journal_is_a_usage_error_before_any_call(
    server: FakeServer, tmp_path: Path, journal: str, why: str
) -> None:
    rows = tmp_path / "rows.csv"
    rows.write_text("to,name\n+14155552001,Ann\n", encoding="utf-8")
    args = batch_args(rows)
    args[args.index("--journal") + 1] = str(tmp_path / journal)
    done = run(args, server)
    assert done.code == ExitCode.USAGE, done.stderr
    assert "cannot write the journal" in done.stderr
    assert why in done.stderr
    assert "internal_error" not in done.stderr
    assert server.requests == []
    assert server.calls == []
    assert not (tmp_path / "results.csv").exists()


@pytest.mark.parametrize("field", ["status:boolean", "call_id", "error_code:number", "note"])
def test_a_field_named_like_a_result_column_is_refused(
    server: FakeServer, tmp_path: Path, field: str
) -> None:
    rows = tmp_path / "rows.csv"
    rows.write_text("to,name\n+14155552001,Ann\n", encoding="utf-8")
    done = run(batch_args(rows, "--field", field), server)
    assert done.code == ExitCode.USAGE
    assert "column of the results: rename it" in done.stderr
    assert_nothing_placed(server, rows)


@pytest.mark.parametrize(
    "option",
    [
        ["--concurrency", "0"],
        ["--concurrency", "65"],
        ["--concurrency", "2.5"],
        ["--timeout", "-1"],
        ["--timeout", "nan"],
        ["--timeout", "inf"],
        ["--interval", "0"],
        ["--interval", "-0.5"],
        ["--interval", "soon"],
    ],
)
def test_numeric_options_are_checked_before_any_request(
    server: FakeServer, tmp_path: Path, option: list[str]
) -> None:
    rows = tmp_path / "rows.csv"
    rows.write_text("to,name\n+14155552001,Ann\n", encoding="utf-8")
    done = run([*batch_args(rows), *option], server)
    assert done.code == ExitCode.USAGE, done.stderr
    assert f"argument {option[0]}:" in done.stderr
    assert_nothing_placed(server, rows)


@pytest.mark.parametrize(
    ("option", "code"),
    [
        (["--caller-id", "555-0100"], "invalid_caller_id"),
        (["--webhook-url", "http://hooks.example.com/"], "invalid_webhook_url"),
        (["--field", "a", "--field", "a:boolean"], "duplicate_field_name"),
    ],
)
def test_a_bad_shared_option_is_one_usage_error_before_any_call(
    server: FakeServer, tmp_path: Path, option: list[str], code: str
) -> None:
    rows = tmp_path / "rows.csv"
    rows.write_text("to,name\n+14155552001,Ann\n+14155552002,Bob\n", encoding="utf-8")
    done = run(batch_args(rows, *option), server)
    assert done.code == ExitCode.USAGE, done.stderr
    assert done.stderr.startswith(f"error: {code}: ")
    assert done.stderr.count("\n") == 1
    assert_nothing_placed(server, rows)
