"""``python -m byourside``: for now one command, ``demo`` (see `byourside._demo`)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command in ``argv`` (default: the command line); returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m byourside", description="The By Your Side SDK.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")
    commands.add_parser(
        "demo",
        help="place the quick-start call on a local fake server (no key, no network) and print the result",
        description="Place the quick-start call on a local FakeServer and print its result.",
    )
    parser.parse_args(argv)  # "demo" is the only command; argparse refuses anything else
    from byourside._demo import run_demo

    return run_demo()


if __name__ == "__main__":
    sys.exit(main())
