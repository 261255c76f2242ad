"""mypy --strict rejects misuses of the typed API: exactly the lines marked `# expect:` in each file of
`tests/typing_rejects/` (typed extraction, batch calling), and nothing else."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
REJECTS = ROOT / "tests" / "typing_rejects"


def expected_errors(path: Path) -> set[tuple[int, str]]:
    found = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        match = re.search(r"# expect: ([\w-]+)", line)
        if match:
            found.add((number, match.group(1)))
    return found


@pytest.mark.parametrize("path", sorted(REJECTS.glob("*.py")), ids=lambda p: p.name)
def test_mypy_rejects_each_marked_misuse_and_nothing_else(path: Path) -> None:
    expected = expected_errors(path)
    assert expected, f"{path.name} marks no line it expects mypy to reject"
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
