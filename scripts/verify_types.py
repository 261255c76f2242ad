"""Check that pyright finds byourside's public interface 100% typed, as an installed user sees it.

`pyright --verifytypes` must read the package as pip installs it: an editable install hides it behind
an import hook pyright does not follow. So this installs the project (not editable) into a throwaway
venv, runs pyright (the pinned PyPI wrapper of the dev extra) from outside the source tree against
that venv, prints pyright's report and exits 1 unless the score is 100% and the report names the
installed copy.

    python scripts/verify_types.py
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "byourside"


def install(target: Path) -> Path:
    """Create a venv at `target` with the project installed the way users install it; return its bin dir."""
    venv.create(target, with_pip=True)
    bin_dir = target / ("Scripts" if os.name == "nt" else "bin")
    subprocess.run(
        [str(bin_dir / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(ROOT)],
        check=True,
    )
    return bin_dir


def verify(env_dir: Path, bin_dir: Path, cwd: Path) -> str:
    """Run `pyright --verifytypes` against the venv and return its report."""
    env = {**os.environ, "VIRTUAL_ENV": str(env_dir), "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(
        [sys.executable, "-m", "pyright", "--verifytypes", PACKAGE, "--ignoreexternal"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout + result.stderr


def main() -> int:
    """Install, verify, print the report; 0 only for a 100% score measured on the installed copy."""
    with tempfile.TemporaryDirectory(prefix="byourside-verifytypes-") as scratch:
        env_dir = Path(scratch) / "venv"
        report = verify(env_dir, install(env_dir), Path(scratch))
    print(report)
    directory = re.search(r'^Package directory: "(.*)"$', report, re.MULTILINE)
    if directory is None or not directory.group(1).startswith(str(env_dir)):
        print(f"pyright did not read the installed {PACKAGE} under {env_dir}", file=sys.stderr)
        return 1
    score = re.search(r"^Type completeness score: ([\d.]+)%$", report, re.MULTILINE)
    if score is None or float(score.group(1)) != 100:
        print(f"{PACKAGE}'s public interface is not 100% known to pyright (see above)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
