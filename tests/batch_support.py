"""Shared by the batch tests: distinct test numbers, items, and counts of what the server stored."""

from __future__ import annotations

from collections import Counter
from typing import Any

from byourside.testing import FakeServer


def number(index: int) -> str:
    """A distinct number per index whose outcome is ``completed`` (none ends in 0001..0007)."""
    return f"+1415555{2000 + index:04d}"


def items(count: int, objective: str = "Confirm the appointment") -> list[dict[str, Any]]:
    """`count` items with distinct numbers, the objective naming each one's index."""
    return [{"to": number(i), "objective": f"{objective} #{i}"} for i in range(count)]


def stored_per_number(server: FakeServer) -> Counter[str]:
    """How many calls the server stored for each number."""
    return Counter(call.to for call in server.calls if call.to is not None)


def posts(server: FakeServer) -> int:
    """How many placements the server received (stored or refused)."""
    return sum(1 for request in server.requests if request.method == "POST")
