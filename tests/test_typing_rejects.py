"""Both type checkers our users run reject misuses of the typed API: `mypy --strict` and pyright in
strict mode each report errors at exactly the lines marked `# expect:` in each file of
`tests/typing_rejects/` (typed extraction, batch calling), and at no other line.

A marker names mypy's error code, and may name the pyright rule too, which must then be among
those pyright reports on that line::

    call.extracted.confirmd  # expect: attr-defined, pyright: reportAttributeAccessIssue
"""

from __future__ import annotations

import functools
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
REJECTS = ROOT / "tests" / "typing_rejects"
FILES = sorted(REJECTS.glob("*.py"))
MARKER = re.compile(r"# expect: ([\w-]+)(?:, pyright: (\w+))?")


@dataclass(frozen=True)
class Expected:
    line: int
    mypy_code: str
    pyright_rule: str | None


def expected_errors(path: Path) -> list[Expected]:
    found = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        match = MARKER.search(line)
        if match:
            found.append(Expected(number, match.group(1), match.group(2)))
    assert found, f"{path.name} marks no line it expects the checkers to reject"
    return found


@functools.cache
def pyright_errors() -> dict[Path, dict[int, set[str]]]:
    """pyright's errors in every reject file, by file and line: one run (a node process) for all."""
    result = subprocess.run(
        # The project's pyproject puts tests/typing_rejects in pyright's strict list.
        [sys.executable, "-m", "pyright", "--outputjson", "--pythonpath", sys.executable]
        + [str(path.relative_to(ROOT)) for path in FILES],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["summary"]["filesAnalyzed"] == len(FILES), result.stdout
    errors: dict[Path, dict[int, set[str]]] = {path: {} for path in FILES}
    for diagnostic in report["generalDiagnostics"]:
        if diagnostic["severity"] == "error":
            line = diagnostic["range"]["start"]["line"] + 1
            rule = diagnostic.get("rule", "")
            errors[Path(diagnostic["file"])].setdefault(line, set()).add(rule)
    return errors


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_mypy_rejects_each_marked_misuse_and_nothing_else(path: Path) -> None:
    expected = {(e.line, e.mypy_code) for e in expected_errors(path)}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--config-file",
            str(ROOT / "mypy.ini"),
            "--no-incremental",
            "--cache-dir",
            "/dev/null",
            str(path.relative_to(ROOT)),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    reported = {
        (int(m.group(1)), m.group(2))
        for m in re.finditer(r"^[^:]+:(\d+): error: .*\[([\w-]+)\]$", result.stdout, re.MULTILINE)
    }
    assert result.returncode == 1, result.stdout
    assert reported == expected, result.stdout


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_pyright_strict_rejects_the_same_lines_and_nothing_else(path: Path) -> None:
    expected = expected_errors(path)
    reported = pyright_errors()[path]
    assert set(reported) == {e.line for e in expected}, reported
    for e in expected:
        if e.pyright_rule is not None:
            assert e.pyright_rule in reported[e.line], (e, reported[e.line])
