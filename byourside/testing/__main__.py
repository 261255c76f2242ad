"""``python -m byourside.testing``: the FakeServer as its own process (``byourside fake-server``).

For tests written in other languages and for docker-compose files: it prints its base URL, key
and webhook secret as ``NAME=value`` lines (``--json``: one JSON object), serves on 127.0.0.1
until Ctrl-C or SIGTERM, and exits 0. ``--help`` lists the options.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from byourside._cli import main as cli_main

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``byourside fake-server`` with `argv` (default: the process's arguments)."""
    words = list(sys.argv[1:] if argv is None else argv)
    return cli_main(words, prog="python -m byourside.testing", command="fake-server")


if __name__ == "__main__":
    sys.exit(main())
