"""``byourside batch rows.csv``: one call per CSV row, paced, resumable, results in row order.

The CSV has a ``to`` column; every column can be used as ``{column}`` in ``--objective`` and
``--context``. Everything is checked before the first call: the file, every row
(`byourside._cli._batch_rows`: its cells, its number, the values its templates need, no repeat
of an earlier row), the results file's columns, where the results and the journal go. The journal
(required: a batch without one cannot be resumed without dialling people twice) lets the same
command, run again, pick up where it stopped.
"""

from __future__ import annotations

import argparse
import os
from collections import Counter
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING

from byourside._cli._batch_rows import BatchRows, RowsError, read_rows
from byourside._cli._console import Console
from byourside._cli._exit import ExitCode
from byourside._cli._parser import Parser, _int_between, _poll_interval, _seconds, parse_field
from byourside._validation import place_call_body

if TYPE_CHECKING:
    from byourside._cli._batch_output import ResultsFile
    from byourside.client import Client

__all__ = ["add_arguments", "run"]

HELP = "place one call per row of a CSV file, paced and resumable; results in row order"

EXAMPLE = """\
example:
  byourside batch rows.csv --objective "Confirm the appointment for {name} at {time}" \\
      --field confirmed:boolean --field new_time --journal run.jsonl --out results.csv

  Run the same command again after an interruption: the journal skips every row already placed
  and waits for those still going. A row whose placement may or may not have happened (the
  process died mid-request) is reported "unknown" and never placed again, unless you add
  --retry-unknown after checking `byourside list`.
"""


EXIT_STATUSES = """\
exit status:
    0  every row has its call (ended, or placed with --no-wait)
    1  some rows need a look: an error, unknown, not placed (minutes cap), a wait that timed out, or
       skipped (--skip-bad-rows); their status and error_code are in the results
    2  usage error: bad arguments, a missing column, an unreadable file, a bad or repeated row
       (nothing was placed)
   70  an unexpected error inside the command line (a bug: please report it)
  130  interrupted (Ctrl-C): run the same command again to resume

Errors print `error: <code>: <message>` on stderr.
"""


def add_arguments(batch: Parser) -> None:
    """The ``batch`` command's arguments, on the parser `build_parser` made for it."""
    batch.description = (batch.description or "") + "\n\n" + EXAMPLE
    batch.epilog = EXIT_STATUSES
    batch.add_argument("rows", type=Path, metavar="ROWS.csv", help="the rows: a `to` column, and any others")
    batch.add_argument(
        "--objective",
        required=True,
        metavar="TEMPLATE",
        help="what the AI should achieve; {column} is replaced",
    )
    batch.add_argument("--context", metavar="TEMPLATE", help="background for the AI; {column} is replaced")
    batch.add_argument(
        "--field",
        dest="fields",
        action="append",
        type=parse_field,
        metavar="NAME[:TYPE[:DESCRIPTION]]",
        help="a value to extract (a column of the results); TYPE is string, boolean or number",
    )
    batch.add_argument("--caller-id", metavar="NUMBER", help="the number to call from (one you own)")
    batch.add_argument("--webhook-url", metavar="URL", help="where the service POSTs each call's events")
    batch.add_argument("--voice", metavar="NAME", help="the AI's voice (Aoede, Kore, Puck, ...)")
    batch.add_argument("--language", metavar="TAG", help="BCP-47 tag (en-US) or auto")
    batch.add_argument(
        "--journal",
        required=True,
        type=Path,
        metavar="PATH",
        help="the resumable journal (JSONL), kept between runs",
    )
    batch.add_argument(
        "--out",
        required=True,
        type=Path,
        metavar="PATH",
        help="the results: CSV, or JSONL when PATH ends .jsonl",
    )
    batch.add_argument(
        "--concurrency",
        type=_int_between(1, 64),
        default=4,
        metavar="N",
        help="calls at once, 1-64 (default: 4)",
    )
    batch.add_argument(
        "--no-wait", dest="wait", action="store_false", help="place the calls, do not wait for them"
    )
    batch.add_argument(
        "--skip-bad-rows",
        action="store_true",
        help="place the good rows and skip the bad ones (status skipped in the results, with why); "
        "by default one bad row stops the batch before any call",
    )
    batch.add_argument(
        "--allow-duplicates",
        action="store_true",
        help="place rows that repeat an earlier row (same to, objective and context); refused by default",
    )
    batch.add_argument(
        "--retry-unknown",
        action="store_true",
        help="place again the rows an earlier run left unknown, when `list` shows no such call",
    )
    batch.add_argument(
        "--timeout",
        type=_seconds,
        default=180.0,
        metavar="SECONDS",
        help="stop waiting for a call after this long; its row says placed (default: 180)",
    )
    batch.add_argument(
        "--interval",
        type=_poll_interval,
        default=3.0,
        metavar="SECONDS",
        help="seconds between polls (default: 3)",
    )


def _same_file(first: Path, second: Path) -> bool:
    try:
        if first.exists() and second.exists():
            return first.samefile(second)
        return first.resolve() == second.resolve()
    except OSError:
        return False


def _unwritable(path: Path) -> str | None:
    """Why `path` cannot be created or appended to, or None. Checked before any call is placed."""
    if path.is_dir():
        return "it is a directory"
    if path.exists():
        return None if os.access(path, os.W_OK) else "it is not writable"
    parent = path.parent
    if not parent.is_dir():
        return f"there is no directory {str(parent)!r}"
    return None if os.access(parent, os.W_OK | os.X_OK) else f"{str(parent)!r} is not writable"


def _check_paths(args: argparse.Namespace) -> None:
    parser: Parser = args.command_parser
    named = {"--out": args.out, "--journal": args.journal}
    for option, path in named.items():
        if _same_file(path, args.rows):
            parser.error(f"{option} {str(path)!r} is the input file: it would be overwritten")
    if _same_file(args.out, args.journal):
        parser.error(f"--out and --journal are the same file {str(args.out)!r}")
    problem = _unwritable(args.journal)
    if problem is not None:
        parser.error(f"cannot write the journal {str(args.journal)!r}: {problem}")


def _check_rows(args: argparse.Namespace) -> BatchRows:
    parser: Parser = args.command_parser
    constant = {
        "caller_id": args.caller_id,
        "webhook_url": args.webhook_url,
        "voice": args.voice,
        "language": args.language,
    }
    given = {key: value for key, value in constant.items() if value is not None}
    # The options every row shares are checked once, here, as place_call checks them: a bad
    # --caller-id is one usage error, not an error on every row of the results.
    place_call_body(to=_ANY_NUMBER, objective=args.objective, fields=args.fields, **given)
    try:
        batch = read_rows(
            args.rows,
            {"objective": args.objective, "context": args.context},
            given,
            allow_duplicates=args.allow_duplicates,
        )
    except RowsError as error:
        parser.error(str(error))
    if batch.problems and not args.skip_bad_rows:
        problems = list(batch.problems.values())
        listed = "\n".join(f"  {problem}" for problem in problems[:_PROBLEMS_SHOWN])
        more = len(problems) - _PROBLEMS_SHOWN
        parser.error(
            f"{str(args.rows)!r}: {len(problems)} row(s) cannot be placed; nothing was placed:\n{listed}"
            + (f"\n  ... and {more} more" if more > 0 else "")
            + "\nFix them, or pass --skip-bad-rows to place the others (the skipped rows are in the results)"
        )
    from byourside._cli._batch_output import RESULT_COLUMNS  # loaded to run a batch, not to parse

    fields = [field.name for field in args.fields or []]
    for name in fields:
        if name in RESULT_COLUMNS:
            parser.error(f"--field {name!r} would be a second {name!r} column of the results: rename it")
    clash = sorted(set(batch.columns) & {*RESULT_COLUMNS, *fields})
    if clash:
        parser.error(f"the results need the column(s) {', '.join(clash)}: rename them in {str(args.rows)!r}")
    return batch


_PROBLEMS_SHOWN = 10
_ANY_NUMBER = "+14155550123"  # stands in for each row's own `to` while the shared options are checked


def run(args: argparse.Namespace, console: Console, live: bool) -> int:
    """Run the batch ``args`` describe; exit status 0 when every row has a call, 1 otherwise."""
    # Loaded here: building the parser must not load batch calling, only running it.
    from byourside._cli._batch_output import ResultsFile
    from byourside._cli._commands import _client  # the client, made as every command makes it

    parser: Parser = args.command_parser
    _check_paths(args)
    batch = _check_rows(args)
    rows = [row.values for row in batch.rows]
    fields = [field.name for field in args.fields or []]
    with _client(args) as client:  # the key and base URL checked before the results file is made
        try:
            results_file = ResultsFile(args.out, batch.columns, rows, fields)
        except OSError as error:
            parser.error(f"cannot write {str(args.out)!r}: {error.strerror or error}")
        return _place(args, console, live, client, batch, results_file)


def _place(
    args: argparse.Namespace,
    console: Console,
    live: bool,
    client: Client,
    batch: BatchRows,
    results_file: ResultsFile,
) -> int:
    from byourside._cli._batch_output import ProgressLine

    rows = batch.rows
    progress = ProgressLine(console.err, live=live)
    counts: Counter[str] = Counter()
    attention = 0
    for index, problem in batch.problems.items():  # only with --skip-bad-rows: else refused above
        results_file.skip(index, problem.code, str(problem))
        console.note(f"skipped {problem}")
        counts["skipped"] += 1
        attention += 1
    placed_rows = list(batch.items)  # the row of each item placed, in order
    with closing(results_file):
        # The rows were checked for duplicates above, with their line numbers; this only tells
        # place_calls (which refuses duplicates by default) what the user asked for.
        results = client.place_calls(
            list(batch.items.values()),
            fields=args.fields,
            concurrency=args.concurrency,
            wait=args.wait,
            journal=args.journal,
            retry_unknown=args.retry_unknown,
            timeout=args.timeout,
            interval=args.interval,
            on_progress=progress.update,
            allow_duplicates=args.allow_duplicates,
        )
        try:
            with closing(results):
                for result in results:
                    results_file.add(result, placed_rows[result.index])
                    counts[result.status] += 1
                    attention += result.error is not None or result.status in ("unknown", "not_placed")
        except KeyboardInterrupt:
            progress.end()
            console.note(
                f"interrupted after {results_file.written} of {len(rows)} rows: run the same command "
                f"again to resume (the journal {str(args.journal)!r} knows what was placed)"
            )
            raise
        finally:
            progress.end()
    summary = ", ".join(f"{status} {count}" for status, count in sorted(counts.items()))
    console.note(f"{len(rows)} rows: {summary or 'none'}; results in {str(args.out)!r}")
    if counts["unknown"]:
        console.note(
            f"{counts['unknown']} row(s) unknown: the call may have been placed. Check with `byourside "
            "list`; run again with --retry-unknown to place the ones that are not there"
        )
    return ExitCode.OK if attention == 0 else ExitCode.API_ERROR
