"""The benchmark runner works (tiny N, figures not judged here) and the heavy modules load lazily."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_runner_measures_every_row(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    result = subprocess.run(
        [sys.executable, "benchmarks/run.py", "--quick", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(out.read_text(encoding="utf-8"))
    rows = {row["name"]: row for row in report["rows"]}
    assert set(rows) == {
        "round_trip",
        "parse",
        "import",
        "webhooks",
        "polling",
        "batch",
        "async_rt",
        "async_wait",
    }
    for name in ("round_trip", "parse", "webhooks", "polling", "async_rt", "async_wait"):
        assert rows[name]["value"] > 0, rows[name]
    for name in rows:
        assert name in result.stdout


def test_import_byourside_leaves_testing_cli_and_batch_unloaded() -> None:
    code = (
        "import sys, byourside; byourside.Client; byourside.Call; "
        "print(' '.join(sorted(m for m in sys.modules if m.startswith(('byourside', 'asyncio')))))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert "byourside.client" in loaded
    heavy = [
        m
        for m in loaded
        if m.startswith(("byourside.testing", "byourside._cli", "byourside._batch", "byourside._async"))
        or m == "asyncio"
    ]
    assert heavy == []
