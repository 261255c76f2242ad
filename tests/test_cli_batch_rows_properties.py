"""Property tests of the batch row reader: what csv.writer writes reads back exactly, and every
row that lacks a cell, a number or a template value is named by its line, never placed."""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from byourside._cli._batch_rows import BatchRows, RowsError, read_rows

# Any text a spreadsheet cell may hold, quotes, commas and newlines included.
CELL = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00\r"), max_size=12)
NON_BLANK = CELL.filter(lambda text: text.strip() != "")
NUMBER = st.integers(min_value=2000000000, max_value=9999999999).map(lambda n: f"+1{n}")


def _read(text: str, objective: str = "Hi {name}", *, allow_duplicates: bool = False) -> BatchRows:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "rows.csv"
        path.write_text(text, encoding="utf-8", newline="")
        return read_rows(
            path, {"objective": objective, "context": None}, {}, allow_duplicates=allow_duplicates
        )


def _csv(rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(NUMBER, NON_BLANK), min_size=1, max_size=8, unique_by=lambda row: row[0]))
def test_what_csv_writes_reads_back_and_renders_every_row(rows: list[tuple[str, str]]) -> None:
    batch = _read(_csv([["to", "name"], *map(list, rows)]))
    assert batch.problems == {}
    assert [(item["to"], item["objective"]) for item in batch.items.values()] == [
        (to, f"Hi {name}") for to, name in rows
    ]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(NUMBER, NON_BLANK), min_size=2, max_size=6, unique_by=lambda row: row[0]),
    st.data(),
)
def test_a_row_without_its_value_is_named_by_line_and_not_placed(
    rows: list[tuple[str, str]], data: st.DataObject
) -> None:
    bad = data.draw(st.integers(min_value=0, max_value=len(rows) - 1))
    damage = data.draw(st.sampled_from(["drop-cell", "blank-value", "blank-to"]))
    cells = [list(row) for row in rows]
    if damage == "drop-cell":
        cells[bad] = cells[bad][:1]
    elif damage == "blank-value":
        cells[bad][1] = " "
    else:
        cells[bad][0] = ""
    text = _csv([["to", "name"], *cells])
    batch = _read(text)
    assert list(batch.problems) == [bad]
    assert bad not in batch.items
    # The line is where the row starts in the file (a quoted cell may span lines).
    lines_before = _csv([["to", "name"], *cells[:bad]]).count("\n")
    assert batch.problems[bad].line == lines_before + 1


@settings(max_examples=40, deadline=None)
@given(NUMBER, NON_BLANK, st.integers(min_value=0, max_value=3))
def test_an_unclosed_quote_is_refused_whatever_follows(to: str, name: str, more: int) -> None:
    text = f'to,name\n{to},"{name.replace(chr(34), "")}\n' + "".join(
        f"+1415555{2000 + i},x\n" for i in range(more)
    )
    with pytest.raises(RowsError, match="line 2"):
        _read(text)


@settings(max_examples=40, deadline=None)
@given(NUMBER, NON_BLANK)
def test_a_repeated_row_is_refused_unless_allowed(to: str, name: str) -> None:
    text = _csv([["to", "name"], [to, name], [to, name]])
    refused = _read(text)
    assert [problem.code for problem in refused.problems.values()] == ["duplicate_row"]
    assert len(_read(text, allow_duplicates=True).items) == 2
