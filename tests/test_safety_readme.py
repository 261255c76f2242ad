"""The README's "Retries and placement safety" section, run: its recovery example against a
FakeServer with the fault it injects prints what the README shows and places one call; its table
of checked numbers names real codes, each refused as the table says."""

from __future__ import annotations

import contextlib
import io
import math
import re
from collections.abc import Callable
from typing import Any, cast

import pytest

from byourside import Client, InvalidRequestError
from byourside.errors import CODE_MESSAGES
from byourside.testing import FakeServer
from tests.readme_support import blocks, section

TITLE = "Retries and placement safety"


def test_the_recovery_example_waits_for_the_placed_call_instead_of_placing_again() -> None:
    [example] = blocks(TITLE, "python")
    [shown] = blocks(TITLE, "text")
    namespace: dict[str, Any] = {"__name__": "readme"}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(example, "README.md", "exec"), namespace)  # noqa: S102 - the README's own code
    assert printed.getvalue().splitlines() == shown.splitlines()
    server: FakeServer = namespace["server"]
    posts = [request for request in server.requests if request.method == "POST"]
    assert len(posts) == 1  # the failed call() was waited for, not placed again
    assert server.pending_faults("get") == 0  # the injected fault was met


def test_the_table_of_checked_numbers_names_codes_that_exist() -> None:
    table_codes = set(re.findall(r"\| `(invalid_[a-z_]+)` \|", section(TITLE)))
    assert table_codes == {"invalid_timeout", "invalid_interval", "invalid_max_retries", "invalid_on_status"}
    assert table_codes <= set(CODE_MESSAGES)


ROWS: list[tuple[Callable[[FakeServer, Client], object], str]] = [
    (lambda s, _: Client(s.api_key, s.base_url, timeout=(5, math.nan)), "invalid_timeout"),
    (lambda _, c: c.wait_for_call("c1", timeout=math.inf), "invalid_timeout"),
    (lambda _, c: c.call("+14155550123", "Hi", timeout=0), "invalid_timeout"),
    (lambda _, c: c.wait_for_call("c1", interval=0), "invalid_interval"),
    (
        lambda s, _: Client(s.api_key, "https://api.example.invalid").wait_for_call("c1", interval=math.nan),
        "invalid_interval",
    ),
    (lambda s, _: Client(s.api_key, s.base_url, max_retries=True), "invalid_max_retries"),
    (lambda _, c: c.get_call("c1", max_retries=-1), "invalid_max_retries"),
    (lambda _, c: c.call("+14155550123", "Hi", on_status=cast(Any, "print")), "invalid_on_status"),
]


@pytest.mark.parametrize(("run", "code"), ROWS)
def test_each_row_is_refused_as_the_table_says(
    run: Callable[[FakeServer, Client], object], code: str
) -> None:
    with FakeServer(instant=True) as server, Client(server.api_key, server.base_url) as client:
        with pytest.raises(InvalidRequestError) as caught:
            run(server, client)
        assert caught.value.code == code
        assert server.requests == []
