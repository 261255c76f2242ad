"""A batch in a process of its own, for the test that kills it mid-run (`test_batch_kill`).

``python -m tests.batch_driver BASE_URL JOURNAL COUNT`` places `tests.batch_support.items(COUNT)`
on the server at BASE_URL with the key in ``BYOURSIDE_API_KEY``, three at a time, journaled to
JOURNAL, and prints each result as it comes.
"""

from __future__ import annotations

import sys

from byourside import Client
from tests.batch_support import items


def main(base_url: str, journal: str, count: int) -> int:
    with Client(base_url=base_url) as client:
        for result in client.place_calls(items(count), journal=journal, concurrency=3, interval=0.02):
            print(result.index, result.status, result.call_id, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
