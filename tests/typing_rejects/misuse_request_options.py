"""Misuses of the per-request options and `with_options` that mypy --strict and pyright (strict)
must reject; tests/test_typing_rejects.py runs both.

Each line meant to fail carries `# expect: <mypy error code>, pyright: <pyright rule>`; this file
is excluded from the project's own mypy and pyright runs and never imported.
"""

from __future__ import annotations

from byourside import AsyncClient, Client


async def misuse(client: Client, async_client: AsyncClient) -> None:
    client.get_call("c1", extra_headers={"X-Count": 1})  # expect: dict-item, pyright: reportArgumentType
    client.list_calls(timeout="5")  # expect: arg-type, pyright: reportArgumentType
    client.wait_for_call("c1", timeout=(1, 2))  # expect: call-overload, pyright: reportArgumentType
    client.call("+1415555", "Hi", extra_headers=["X-A"])  # expect: call-overload, pyright: reportArgumentType
    client.with_options(headers={"X-A": "1"})  # expect: call-arg, pyright: reportCallIssue
    derived: AsyncClient = client.with_options(timeout=5)  # expect: assignment, pyright: reportAssignmentType
    await async_client.place_call("+1", "Hi", request_timeout=5)  # expect: call-arg, pyright: reportCallIssue
