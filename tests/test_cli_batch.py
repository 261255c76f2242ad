"""``byourside batch``: the real console script in a subprocess against a FakeServer in this process.

A CSV goes in, a results file comes out with one row per input row, in input order, the extracted
values as columns; running the same command again dials nobody; every bad input is a usage error
before any request.
"""

from __future__ import annotations

import csv
import json
import os
import pty
import select
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from byourside._cli import ExitCode
from byourside.testing import TEST_NUMBERS, FakeServer
from tests.batch_support import posts, stored_per_number
from tests.cli_support import FAST, KEY, finish, run, start

ROWS = [
    {"to": "+14155552001", "name": "Ann", "time": "2pm"},
    {"to": "+19005550100", "name": "Eve", "time": "3pm"},  # premium rate: refused
    {"to": TEST_NUMBERS["no_answer"], "name": "Nobody", "time": "4pm"},
    {"to": "555-0199", "name": "Zed", "time": "5pm"},  # not E.164
    {"to": "+14155552005", "name": "Bob", "time": "6pm"},
]
OBJECTIVE = "Confirm the appointment for {name} at {time}"
FIELDS = ["--field", "confirmed:boolean", "--field", "new_time:string:The new time"]


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer(api_key=KEY, instant=True) as fake:
        yield fake


def write_rows(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def batch(tmp_path: Path, *extra: str, out: str = "results.csv", journal: str = "run.jsonl") -> list[str]:
    rows = (
        write_rows(tmp_path / "rows.csv", ROWS)
        if not (tmp_path / "rows.csv").exists()
        else tmp_path / "rows.csv"
    )
    return [
        "batch",
        str(rows),
        "--objective",
        OBJECTIVE,
        *FIELDS,
        "--journal",
        str(tmp_path / journal),
        "--out",
        str(tmp_path / out),
        *FAST,
        *extra,
    ]


def read_results(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(encoding="utf-8", newline="") as file:
        reader = csv.DictReader(file)
        return list(reader.fieldnames or []), list(reader)


def test_a_csv_goes_round_trip_with_extracted_columns(server: FakeServer, tmp_path: Path) -> None:
    done = run(batch(tmp_path), server)

    assert done.code == ExitCode.API_ERROR, done.stderr  # two rows were refused: they need a look
    columns, results = read_results(tmp_path / "results.csv")
    assert columns == [
        "to",
        "name",
        "time",
        "status",
        "call_id",
        "error_code",
        "error_message",
        "note",
        "confirmed",
        "new_time",
    ]
    assert [{k: r[k] for k in ("to", "name", "time")} for r in results] == ROWS
    assert [r["status"] for r in results] == ["completed", "error", "no_answer", "error", "completed"]
    assert [r["error_code"] for r in results] == ["", "destination_blocked", "", "invalid_number", ""]
    assert [(r["confirmed"], r["new_time"]) for r in results] == [
        ("true", "tomorrow at 3pm"),
        ("", ""),
        ("", ""),
        ("", ""),
        ("true", "tomorrow at 3pm"),
    ]
    stored = {call.call_id: call for call in server.calls}
    for row, result in zip(ROWS, results, strict=True):
        if result["call_id"]:
            call = stored[result["call_id"]]
            assert call.to == row["to"]
            assert call.objective == f"Confirm the appointment for {row['name']} at {row['time']}"
    sent = [request.json() for request in server.requests if request.method == "POST"]
    assert all(
        body["fields"][1] == {"name": "new_time", "type": "string", "description": "The new time"}
        for body in sent
    )
    assert done.stdout == ""  # the results go to --out; stderr carries progress and the summary
    assert "5 rows: completed 2, error 2, no_answer 1" in done.stderr
    assert "\r" not in done.stderr  # not a terminal: plain progress lines
    assert "placed 3/5" in done.stderr


def test_running_the_same_command_again_dials_nobody(server: FakeServer, tmp_path: Path) -> None:
    first = run(batch(tmp_path), server)
    placed = posts(server)
    _, before = read_results(tmp_path / "results.csv")
    again = run(batch(tmp_path), server)

    assert again.code == first.code
    assert posts(server) == placed + 1  # only the premium number, refused again: nothing placed
    _, after = read_results(tmp_path / "results.csv")
    assert after == before
    assert all(count == 1 for count in stored_per_number(server).values())


def test_jsonl_results_keep_the_values_typed(server: FakeServer, tmp_path: Path) -> None:
    done = run(batch(tmp_path, out="results.jsonl"), server)
    assert done.code == ExitCode.API_ERROR
    records = [
        json.loads(line) for line in (tmp_path / "results.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    assert [record["row"] for record in records] == ROWS
    assert records[0]["extracted"] == {"confirmed": True, "new_time": "tomorrow at 3pm"}
    assert (records[1]["status"], records[1]["error_code"], records[1]["extracted"]) == (
        "error",
        "destination_blocked",
        None,
    )


def test_without_waiting_every_row_is_placed(server: FakeServer, tmp_path: Path) -> None:
    rows = [row for row in ROWS if row["to"].startswith("+1415")]
    write_rows(tmp_path / "rows.csv", rows)
    done = run(batch(tmp_path, "--no-wait"), server)
    assert done.code == ExitCode.OK, done.stderr
    _, results = read_results(tmp_path / "results.csv")
    assert [r["status"] for r in results] == ["placed"] * len(rows)
    assert all(r["call_id"] for r in results)
    # No call is read; the one list first is the batch's snapshot of older calls (issue 22, case 6).
    assert [request.method for request in server.requests] == ["GET"] + ["POST"] * len(rows)


@pytest.mark.parametrize(
    ("rows", "options", "message"),
    [
        ([{"phone": "+14155552001"}], [], "no `to` column"),
        ([{"to": "+14155552001", "name": "Ann"}], ["--context", "Booked by {agent}"], "no column 'agent'"),
        ([{"to": "+14155552001", "name": "Ann"}], ["--context", "Booked {}"], "without a column name"),
        ([{"to": "+14155552001", "name": "Ann"}], ["--context", "Booked {name"], "--context"),
        ([{"to": "+14155552001", "name": "Ann", "status": "vip"}], [], "status"),
        ([{"to": "+14155552001", "name": "Ann", "confirmed": "?"}], [], "confirmed"),
    ],
)
def test_bad_input_is_a_usage_error_before_any_request(
    server: FakeServer, tmp_path: Path, rows: list[dict[str, str]], options: list[str], message: str
) -> None:
    write_rows(tmp_path / "rows.csv", rows)
    args = batch(tmp_path, *options)
    if rows[0].get("phone"):
        args[args.index("--objective") + 1] = "Hi"
    else:
        args[args.index("--objective") + 1] = "Hi {name}"
    done = run(args, server)
    assert done.code == ExitCode.USAGE, done.stderr
    assert message in done.stderr
    assert server.requests == []
    assert not (tmp_path / "results.csv").exists()
    assert not (tmp_path / "run.jsonl").exists()


def test_a_journal_of_another_csv_is_refused(server: FakeServer, tmp_path: Path) -> None:
    run(batch(tmp_path), server)
    sent = len(server.requests)
    write_rows(tmp_path / "rows.csv", ROWS[:2])
    done = run(batch(tmp_path), server)
    assert done.code == ExitCode.USAGE  # refused before any request: the journal given is not this one
    assert "error: journal_mismatch:" in done.stderr
    assert len(server.requests) == sent


def test_on_a_terminal_the_progress_line_is_redrawn_in_place(server: FakeServer, tmp_path: Path) -> None:
    main_end, tty_end = pty.openpty()
    process = start(batch(tmp_path), server, stderr=tty_end)
    os.close(tty_end)
    seen = b""
    while True:  # read the terminal as it is written; EOF (EIO on Linux) once the process is gone
        ready, _, _ = select.select([main_end], [], [], 30)
        try:
            chunk = os.read(main_end, 4096) if ready else b""
        except OSError:
            chunk = b""
        if not chunk:
            break
        seen += chunk
    os.close(main_end)
    assert finish(process).code == ExitCode.API_ERROR
    progress, summary, *_ = seen.decode().replace("\r\n", "\n").split("\n")
    updates = progress.split("\r")[1:]
    assert len(updates) >= 5
    assert updates[-1].startswith("placed 3/5  in progress 0  done 5")
    assert summary.startswith("5 rows:")


def test_ctrl_c_stops_the_batch_and_the_same_command_resumes_it(tmp_path: Path) -> None:
    rows = [{"to": f"+1415555{2100 + i:04d}", "name": f"P{i}", "time": "2pm"} for i in range(8)]
    write_rows(tmp_path / "rows.csv", rows)
    journal = tmp_path / "run.jsonl"
    with FakeServer(api_key=KEY, ring_seconds=0.3, talk_seconds=0.3) as server:
        process = start(batch(tmp_path, "--concurrency", "2"), server)
        deadline = time.monotonic() + 30
        while b'"placed"' not in (journal.read_bytes() if journal.exists() else b""):
            assert time.monotonic() < deadline
            assert process.poll() is None
            time.sleep(0.01)
        process.send_signal(signal.SIGINT)
        stopped = finish(process)
        assert stopped.code == ExitCode.INTERRUPTED, stopped.stderr
        assert "interrupted after" in stopped.stderr
        assert "run the same command again to resume" in stopped.stderr
        assert server.count_calls() < len(rows)

        server.ring_seconds = server.talk_seconds = 0.0
        resumed = run(batch(tmp_path, "--concurrency", "2"), server)
        assert resumed.code == ExitCode.OK, resumed.stderr
        _, results = read_results(tmp_path / "results.csv")
        assert [r["status"] for r in results] == ["completed"] * len(rows)
        assert stored_per_number(server) == {row["to"]: 1 for row in rows}
