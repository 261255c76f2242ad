"""mypy --strict rejects misuse of batch calling: exactly the lines of
`tests/typing_rejects/misuse_batch.py` marked `# expect:`, and nothing else."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.test_typing_rejects import REJECTS, ROOT, expected_errors


def test_mypy_rejects_each_marked_batch_misuse_and_nothing_else() -> None:
    path = REJECTS / "misuse_batch.py"
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
