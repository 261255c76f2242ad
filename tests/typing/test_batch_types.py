"""Typing promises of batch calling, checked by `mypy --strict` with `assert_type` and run by pytest
against a FakeServer, so every line is also executed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel
from typing_extensions import assert_type

from byourside import (
    BatchItem,
    BatchOptions,
    BatchProgress,
    BatchResult,
    BatchRun,
    BatchStatus,
    ByoursideError,
    Call,
    Client,
)
from byourside.testing import FakeServer


class Appointment(BaseModel):
    confirmed: bool
    new_time: str | None = None


def test_results_are_typed_by_the_fields_model(tmp_path: Path) -> None:
    items: list[BatchItem | dict[str, Any]] = [
        BatchItem(to="+14155550123", objective="Confirm", caller_id="+14155550100"),
        {"to": "+14155550124", "objective": "Confirm", "webhookUrl": None},
    ]
    progress: list[BatchProgress] = []
    options: BatchOptions = {
        "concurrency": 2,
        "interval": 0.01,
        "journal": tmp_path / "run.jsonl",
        "on_progress": progress.append,
    }
    with FakeServer(instant=True) as server, Client(server.api_key, server.base_url) as client:
        typed = client.place_calls(items, fields=Appointment, **options)
        assert_type(typed, BatchRun[Appointment])
        for result in typed:
            assert_type(result.status, BatchStatus)
            assert_type(result.call, Call[Appointment] | None)
            assert_type(result.error, ByoursideError | None)
            assert_type(result.item, BatchItem)
            assert_type(result.call_id, str | None)
            assert result.call is not None
            assert result.call.extracted is not None
            assert_type(result.call.extracted.confirmed, bool)

        untyped = client.place_calls(items, fields=[{"name": "confirmed", "type": "boolean"}], interval=0.01)
        assert_type(untyped, BatchRun[dict[str, Any]])
        for plain in untyped:
            assert plain.call is not None
            assert_type(plain.call.extracted, dict[str, Any] | None)

        bare = client.place_calls([{"to": "+14155550125", "objective": "Hi"}], wait=False)
        assert_type(bare, BatchRun[dict[str, Any]])
        assert [r.status for r in bare] == ["placed"]

        with client.place_calls(items, allow_duplicates=True, interval=0.01) as stopped:
            assert_type(stopped, BatchRun[dict[str, Any]])
            assert_type(stopped.stop(wait=False), None)
            assert_type(next(stopped), BatchResult[dict[str, Any]])
            assert_type(stopped.close(), None)
    assert progress[-1].done == 2
