"""`python -m byourside._mcp`: the same as `byourside mcp`."""

import sys

from byourside._mcp import run

sys.exit(run())
