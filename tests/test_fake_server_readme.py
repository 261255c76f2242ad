"""The README's FakeServer section, run: its example, and its fixtures in a project of their own.

The fixtures example runs in a fresh pytest process outside this repository, so it only passes if
installing byourside registers the plugin (the ``pytest11`` entry point) as users get it.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def fake_server_blocks() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("\n## A local By Your Side for your tests: `FakeServer`\n")
    end = readme.find("\n## ", start + 1)
    section = readme[start : end if end != -1 else len(readme)]
    return re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)


def test_the_readme_example_runs() -> None:
    example = fake_server_blocks()[0]
    assert "FakeServer(clock=FakeClock())" in example
    exec(compile(example, "README.md", "exec"), {})  # noqa: S102 - the README's own code


def test_the_readme_fixtures_work_in_any_project(tmp_path: Path) -> None:
    example = fake_server_blocks()[1]
    assert "byourside_client" in example
    (tmp_path / "test_readme_fixtures.py").write_text(example, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--strict-markers", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout
