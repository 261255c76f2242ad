"""The test suite on every Python that pyproject.toml claims: `nox` (what .ci/run runs).

    nox                       # tests on 3.10, 3.11, 3.12 and 3.13, one after another
    nox -s tests-3.12         # one interpreter
    nox -s tests-3.13 -- -x tests/test_client.py   # arguments after -- go to pytest

Interpreters installed by pyenv are found even when pyenv has not made them active, and nox never
downloads one: a missing interpreter is an error, not a skipped session. The one-interpreter checks
(ruff, mypy, pyright, codegen, spec) stay in .ci/run.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import nox

PYTHONS = ["3.10", "3.11", "3.12", "3.13"]

REFERENCE_PYTHON = "3.11"
"""The interpreter that also runs the webhook crash tests (marker ``crash``: gunicorn workers
SIGKILLed mid-handler, about 90 s) and the randomized 1,000-run searches (marker ``soak``, about
80 s: the fault schedules, the fault proxy, hostile replies). They search the SDK's logic, not the
interpreter; every other session still runs the deterministic raw-socket regressions of the same
faults. So CI stays inside its time budget."""

nox.options.sessions = ["tests"]
nox.options.default_venv_backend = "venv"
nox.options.download_python = "never"
nox.options.error_on_missing_interpreters = True


def _pyenv_interpreter_dirs(versions: list[str]) -> list[str]:
    """The bin directory of the newest pyenv-installed patch release of each `X.Y`, where there is one.

    pyenv's shim for `python3.12` fails unless 3.12 is the active version, and nox looks interpreters
    up by name on PATH, so the real directories go first on PATH instead.
    """
    root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    found = []
    for version in versions:
        releases = []
        for candidate in root.glob(f"{version}.*"):
            match = re.fullmatch(rf"{re.escape(version)}\.(\d+)", candidate.name)
            if match and (candidate / "bin" / f"python{version}").is_file():
                releases.append((int(match.group(1)), candidate / "bin"))
        if releases:
            found.append(str(max(releases)[1]))
    return found


os.environ["PATH"] = os.pathsep.join([*_pyenv_interpreter_dirs(PYTHONS), os.environ.get("PATH", "")])


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """The README's test command, `python -m pytest`, in a fresh venv with the dev extra."""
    session.install("-e", ".[dev]")
    selection = [] if session.python == REFERENCE_PYTHON else ["-m", "not crash and not soak"]
    session.run("python", "-m", "pytest", *(session.posargs or selection))
