"""``python -m byourside``: the ``byourside`` command line (see `byourside._cli`)."""

from __future__ import annotations

import sys

from byourside._cli import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main(prog="python -m byourside"))
