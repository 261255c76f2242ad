"""What ``byourside batch`` writes: the results file (CSV or JSONL, in row order) and its progress line."""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from byourside._batch import BatchProgress, BatchResult
from byourside._cli._render import one_line

__all__ = ["RESULT_COLUMNS", "ProgressLine", "ResultsFile", "eta_text"]

RESULT_COLUMNS = ("status", "call_id", "error_code", "error_message", "note")
"""The columns each results row adds after the input's, before the extracted values."""


def _cell(value: Any) -> str:
    # A CSV cell: text as it is, booleans and numbers as JSON writes them, nothing for null.
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)


class ResultsFile:
    """Writes one row per input row, in input order, as soon as every earlier row is done.

    ``.jsonl`` paths get one JSON object a line (``row``: the input; the result's keys;
    ``extracted``: the values, typed as the service sent them); anything else gets CSV with the
    input's columns, `RESULT_COLUMNS`, then one column per extracted field.
    """

    def __init__(
        self, path: Path, columns: Sequence[str], rows: Sequence[Mapping[str, str]], fields: Sequence[str]
    ) -> None:
        self.path = path
        self.columns = list(columns)
        self.rows = rows
        self.fields = list(fields)
        self.as_json = path.suffix.lower() == ".jsonl"
        self._file: TextIO = path.open("w", encoding="utf-8", newline="")
        self._csv = csv.writer(self._file)
        self._held: dict[int, tuple[dict[str, Any], dict[str, Any]]] = {}
        self._next = 0
        if not self.as_json:
            self._csv.writerow([*self.columns, *RESULT_COLUMNS, *self.fields])
            self._file.flush()

    def add(self, result: BatchResult[Any], row: int | None = None) -> None:
        """Take the result of row `row` (default: the result's index); write what is now in order."""
        error = result.error
        outcome = {
            "status": result.status,
            "call_id": result.call_id,
            "error_code": error.code if error is not None else None,
            "error_message": error.message if error is not None else None,
            "note": result.note,
        }
        extracted = (result.call.raw_extracted if result.call is not None else None) or {}
        self._hold(result.index if row is None else row, outcome, extracted)

    def skip(self, row: int, code: str, message: str) -> None:
        """Record row `row` as skipped (``--skip-bad-rows``): status ``skipped``, and why."""
        outcome = {"status": "skipped", "call_id": None, "error_code": code, "error_message": message}
        self._hold(row, {**outcome, "note": None}, {})

    def _hold(self, row: int, outcome: dict[str, Any], extracted: dict[str, Any]) -> None:
        self._held[row] = (outcome, extracted)
        while self._next in self._held:
            self._write(self.rows[self._next], *self._held.pop(self._next))
            self._next += 1
        self._file.flush()

    def _write(self, row: Mapping[str, str], outcome: dict[str, Any], extracted: dict[str, Any]) -> None:
        if self.as_json:
            record = {"row": dict(row), **outcome, "extracted": extracted or None}
            self._file.write(json.dumps(record, ensure_ascii=False) + "\n")
        else:
            values = [row.get(column, "") for column in self.columns]
            self._csv.writerow(
                [
                    *values,
                    *(_cell(v) for v in outcome.values()),
                    *(_cell(extracted.get(f)) for f in self.fields),
                ]
            )

    @property
    def written(self) -> int:
        """How many rows are in the file."""
        return self._next

    def close(self) -> None:
        """Close the file (rows still held, waiting for an earlier one, are not written)."""
        self._file.close()


def eta_text(seconds: float | None) -> str:
    """A short duration: ``45s``, ``3m05s``, ``1h02m``; ``--`` when unknown.

    >>> eta_text(45.2), eta_text(185), eta_text(3725), eta_text(None)
    ('45s', '3m05s', '1h02m', '--')
    """
    if seconds is None:
        return "--"
    whole = max(0, round(seconds))
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


class ProgressLine:
    """The batch's progress on stderr: redrawn in place (``\\r``) on a terminal; otherwise a plain
    line when results arrive, at most every `every` seconds, and always for the last one."""

    def __init__(
        self, stream: TextIO, *, live: bool, every: float = 2.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.stream = stream
        self.live = live
        self.every = every
        self.clock = clock
        self._width = 0
        self._last_line_at: float | None = None
        self._last_done = -1

    @staticmethod
    def text(progress: BatchProgress) -> str:
        """E.g. ``placed 12/200  in progress 4  done 8 (completed 7, no_answer 1)  errors 1  ETA 1m20s``."""
        statuses = ", ".join(f"{status} {count}" for status, count in sorted(progress.by_status.items()))
        done = f"done {progress.done}" + (f" ({statuses})" if statuses else "")
        eta = None
        if 0 < progress.done < progress.total:
            eta = progress.elapsed / progress.done * (progress.total - progress.done)
        elif progress.done == progress.total:
            eta = 0.0
        return one_line(
            f"placed {progress.placed}/{progress.total}  in progress {progress.waiting}  {done}  "
            f"errors {progress.errors}  ETA {eta_text(eta)}"
        )

    def update(self, progress: BatchProgress) -> None:
        """Show `progress` (the ``on_progress`` callback; the batch calls it one at a time)."""
        line = self.text(progress)
        if self.live:
            self.stream.write(f"\r{line:<{self._width}}")
            self._width = max(self._width, len(line))
        else:
            now = self.clock()
            due = self._last_line_at is None or now - self._last_line_at >= self.every
            if progress.done == self._last_done or not (due or progress.done == progress.total):
                return
            self._last_line_at, self._last_done = now, progress.done
            self.stream.write(f"{line}\n")
        self.stream.flush()

    def end(self) -> None:
        """Leave the cursor on a fresh line."""
        if self.live and self._width:
            self.stream.write("\n")
            self.stream.flush()
            self._width = 0
