"""``byourside batch rows.csv``: one call per CSV row, paced, resumable, results in row order.

The CSV has a ``to`` column; every column can be used as ``{column}`` in ``--objective`` and
``--context``. Everything is checked before the first call: the file, the columns the templates
name, the results file's columns. The journal (required: a batch without one cannot be resumed
without dialling people twice) lets the same command, run again, pick up where it stopped.
"""

from __future__ import annotations

import argparse
import csv
from collections import Counter
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path
from string import Formatter
from typing import Any

from byourside._cli._console import Console
from byourside._cli._exit import ExitCode
from byourside._cli._parser import Parser, _int_between, _poll_interval, _seconds, parse_field

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
    1  some rows need a look: an error, unknown, not placed (minutes cap), or a wait that timed out;
       their status and error_code are in the results
    2  usage error: bad arguments, a missing column, an unreadable file (nothing was placed)
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


def _read_rows(args: argparse.Namespace) -> tuple[list[str], list[dict[str, str]]]:
    parser: Parser = args.command_parser
    try:
        with args.rows.open(encoding="utf-8-sig", newline="") as file:  # -sig: Excel's byte-order mark
            reader = csv.DictReader(file, restval="")
            columns = list(reader.fieldnames or [])
            rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        parser.error(f"cannot read {str(args.rows)!r}: {error}")
    if "to" not in columns:
        parser.error(f"{str(args.rows)!r} has no `to` column (columns: {', '.join(columns) or 'none'})")
    if len(set(columns)) != len(columns):
        twice = sorted(name for name, count in Counter(columns).items() if count > 1)
        parser.error(f"{str(args.rows)!r} names a column more than once: {', '.join(twice)}")
    for number, row in enumerate(rows, start=2):
        if None in row:
            parser.error(f"{str(args.rows)!r} line {number} has more cells than there are columns")
    return columns, rows


def _check_template(parser: Parser, option: str, template: str, columns: Sequence[str]) -> None:
    try:
        names = [name for _, name, _, _ in Formatter().parse(template) if name is not None]
    except ValueError as error:
        parser.error(f"{option}: {error} (write {{{{ and }}}} for literal braces)")
    for name in names:
        if name not in columns:
            where = f"no column {name!r}" if name else "a {} without a column name"
            parser.error(f"{option} uses {where}; the columns are: {', '.join(columns)}")


def _items(
    args: argparse.Namespace, columns: Sequence[str], rows: Sequence[dict[str, str]]
) -> list[dict[str, Any]]:
    parser: Parser = args.command_parser
    templates = {"objective": args.objective, "context": args.context}
    for key, template in templates.items():
        if template is not None:
            _check_template(parser, f"--{key}", template, columns)
    constant = {
        "caller_id": args.caller_id,
        "webhook_url": args.webhook_url,
        "voice": args.voice,
        "language": args.language,
    }
    items = []
    for row in rows:
        item: dict[str, Any] = {"to": row["to"].strip()}
        for key, template in templates.items():
            if template is not None:
                try:
                    item[key] = template.format_map(row)
                except (ValueError, IndexError, KeyError) as error:
                    parser.error(f"--{key}: {error!r} in {template!r}")
        items.append({**item, **{k: v for k, v in constant.items() if v is not None}})
    return items


def run(args: argparse.Namespace, console: Console, live: bool) -> int:
    """Run the batch ``args`` describe; exit status 0 when every row has a call, 1 otherwise."""
    # Loaded here: building the parser must not load batch calling, only running it.
    from byourside._cli._batch_output import RESULT_COLUMNS, ProgressLine, ResultsFile
    from byourside._cli._commands import _client  # the client, made as every command makes it

    parser: Parser = args.command_parser
    columns, rows = _read_rows(args)
    items = _items(args, columns, rows)
    fields = [field.name for field in args.fields or []]
    clash = sorted(set(columns) & {*RESULT_COLUMNS, *fields})
    if clash:
        parser.error(f"the results need the column(s) {', '.join(clash)}: rename them in {str(args.rows)!r}")
    try:
        results_file = ResultsFile(args.out, columns, rows, fields)
    except OSError as error:
        parser.error(f"cannot write {str(args.out)!r}: {error.strerror or error}")
    progress = ProgressLine(console.err, live=live)
    counts: Counter[str] = Counter()
    attention = 0
    with closing(results_file), _client(args) as client:
        results = client.place_calls(
            items,
            fields=args.fields,
            concurrency=args.concurrency,
            wait=args.wait,
            journal=args.journal,
            retry_unknown=args.retry_unknown,
            timeout=args.timeout,
            interval=args.interval,
            on_progress=progress.update,
        )
        try:
            with closing(results):
                for result in results:
                    results_file.add(result)
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
