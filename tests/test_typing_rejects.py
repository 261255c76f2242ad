"""mypy --strict rejects misuse of a typed extraction result: exactly the lines marked `# expect:`."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REJECTS = ROOT / "tests" / "typing_rejects"


def expected_errors(path: Path) -> set[tuple[int, str]]:
    found = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        match = re.search(r"# expect: ([\w-]+)", line)
        if match:
            found.add((number, match.group(1)))
    return found


def test_mypy_rejects_each_marked_misuse_and_nothing_else() -> None:
    path = REJECTS / "misuse_extracted.py"
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
    assert reported == expected_errors(path), result.stdout
