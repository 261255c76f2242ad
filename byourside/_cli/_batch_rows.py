"""The rows of ``byourside batch``, read strictly and checked whole before the first call.

A file that cannot be read as CSV (an unclosed quote, text after a closing quote, duplicate or
missing `to` column) is refused outright: past the first quoting error nothing can be trusted.
Each row is then checked on its own: as many cells as the header, a `to`, a non-empty value for
every ``{column}`` the objective and context name, and not a repeat of an earlier row (same
number, same rendered objective and context). A bad row is a `RowProblem` naming its line.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from string import Formatter
from typing import Any

__all__ = ["BatchRows", "Row", "RowProblem", "RowsError", "read_rows", "template_columns"]


class RowsError(Exception):
    """The file, or a template, cannot be used at all: a usage error, nothing placed."""


@dataclass(frozen=True)
class Row:
    """One data row: the line it starts on (1 is the header) and its cells by column."""

    line: int
    values: dict[str, str]


@dataclass(frozen=True)
class RowProblem:
    """Why the row at `line` cannot be placed: `code` is ``invalid_row`` or ``duplicate_row``."""

    line: int
    code: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass
class BatchRows:
    """The rows of a batch file checked against the templates: one placement or problem a row."""

    columns: list[str]
    rows: list[Row]
    items: dict[int, dict[str, Any]]
    """The placement of each good row, by its index in `rows`."""
    problems: dict[int, RowProblem]
    """The problem of each bad row, by its index in `rows`."""


def template_columns(option: str, template: str, columns: Sequence[str]) -> list[str]:
    """The columns `template` names, or `RowsError` for a bad template or a column not there."""
    try:
        names = [name for _, name, _, _ in Formatter().parse(template) if name is not None]
    except ValueError as error:
        raise RowsError(f"{option}: {error} (write {{{{ and }}}} for literal braces)") from None
    for name in names:
        if name not in columns:
            where = f"no column {name!r}" if name else "a {} without a column name"
            raise RowsError(f"{option} uses {where}; the columns are: {', '.join(columns)}")
    return names


def _read(path: Path) -> tuple[list[str], list[Row], dict[int, int]]:
    rows: list[Row] = []
    widths: dict[int, int] = {}  # the cell count of each row that has a wrong one
    try:
        with path.open(encoding="utf-8-sig", newline="") as file:  # -sig: Excel's byte-order mark
            # strict: an unclosed quote is an error, not a cell that swallows the lines after it.
            reader = csv.reader(file, strict=True)
            columns = next(reader, [])
            ended = reader.line_num
            for cells in reader:
                line, ended = ended + 1, reader.line_num
                if not cells:  # a blank line, skipped as csv.DictReader skips it
                    continue
                if len(cells) != len(columns):
                    widths[len(rows)] = len(cells)
                rows.append(Row(line, dict(zip(columns, cells, strict=False))))
    except csv.Error as error:
        raise RowsError(
            f"{str(path)!r} line {ended + 1}: {error} (a quote opened in a cell must close in it; "
            'write "" for a quote inside a quoted cell)'
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise RowsError(f"cannot read {str(path)!r}: {error}") from None
    return columns, rows, widths


def read_rows(
    path: Path,
    templates: Mapping[str, str | None],
    constant: Mapping[str, Any],
    *,
    allow_duplicates: bool = False,
) -> BatchRows:
    """Read `path` and check every row against `templates` (``{"objective": ..., "context": ...}``).

    `constant` holds the placement keys every row shares (``caller_id``, ...). A number that is
    there but not E.164 is left to `place_calls`, which refuses that item alone (``invalid_number``
    in the results) without placing it. Raises `RowsError` for what makes the whole file unusable.
    """
    columns, rows, widths = _read(path)
    if "to" not in columns:
        raise RowsError(f"{str(path)!r} has no `to` column (columns: {', '.join(columns) or 'none'})")
    if len(set(columns)) != len(columns):
        twice = sorted(name for name, count in Counter(columns).items() if count > 1)
        raise RowsError(f"{str(path)!r} names a column more than once: {', '.join(twice)}")
    used = {key: template_columns(f"--{key}", text, columns) for key, text in templates.items() if text}
    batch = BatchRows(columns, rows, {}, {})
    first_line: dict[tuple[str, ...], int] = {}
    key: tuple[str, ...]
    for index, row in enumerate(rows):
        problem = _row_problem(row, widths.get(index), len(columns), used)
        if problem is not None:
            batch.problems[index] = RowProblem(row.line, "invalid_row", problem)
            continue
        item: dict[str, Any] = {"to": row.values["to"].strip()}
        for name, template in templates.items():
            if template is not None:
                item[name] = template.format_map(row.values)
        key = (item["to"], item.get("objective", ""), item.get("context", ""))
        if key in first_line and not allow_duplicates:
            batch.problems[index] = RowProblem(
                row.line,
                "duplicate_row",
                f"repeats line {first_line[key]} (the same `to`, objective and context): it would "
                "dial the same person twice; remove one, or pass --allow-duplicates",
            )
            continue
        first_line.setdefault(key, row.line)
        batch.items[index] = {**item, **constant}
    return batch


def _row_problem(row: Row, width: int | None, columns: int, used: Mapping[str, list[str]]) -> str | None:
    if width is not None:
        fewer_or_more = "fewer" if width < columns else "more"
        return f"{width} cells, {fewer_or_more} than the {columns} columns of the header"
    if not row.values["to"].strip():
        return "no number in the `to` column"
    for key, names in used.items():
        empty = [name for name in dict.fromkeys(names) if not row.values[name].strip()]
        if empty:
            return f"--{key} needs {', '.join(repr(name) for name in empty)}, empty on this row"
    return None
