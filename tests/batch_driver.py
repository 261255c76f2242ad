"""A batch in a process of its own, for the test that kills it mid-run (`test_batch_kill`).

``python -m tests.batch_driver BASE_URL JOURNAL COUNT [KIND]`` places
`tests.batch_support.items(COUNT)` on the server at BASE_URL with the key in ``BYOURSIDE_API_KEY``,
three at a time, journaled to JOURNAL, and prints each result as it comes. KIND is ``Client`` (the
default) or ``AsyncClient`` (``async for`` over its place_calls in an event loop).
"""

from __future__ import annotations

import asyncio
import sys

from byourside import AsyncClient, Client
from tests.batch_support import items


def main(base_url: str, journal: str, count: int) -> int:
    with Client(base_url=base_url) as client:
        for result in client.place_calls(items(count), journal=journal, concurrency=3, interval=0.02):
            print(result.index, result.status, result.call_id, flush=True)
    return 0


async def main_async(base_url: str, journal: str, count: int) -> int:
    async with AsyncClient(base_url=base_url) as client:
        batch = client.place_calls(items(count), journal=journal, concurrency=3, interval=0.02)
        async for result in batch:
            print(result.index, result.status, result.call_id, flush=True)
    return 0


if __name__ == "__main__":
    arguments = (sys.argv[1], sys.argv[2], int(sys.argv[3]))
    if sys.argv[4:] == ["AsyncClient"]:
        sys.exit(asyncio.run(main_async(*arguments)))
    sys.exit(main(*arguments))
