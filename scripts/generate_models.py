"""Generate `byourside/_generated.py` from `spec/openapi.yaml` with datamodel-code-generator.

Every generator option lives in `[tool.datamodel-codegen]` of pyproject.toml, and the generator
and its formatter (ruff) are pinned exactly in the `dev` extra, so the output is byte-for-byte the
same on every machine.

    python scripts/generate_models.py            # rewrite the module
    python scripts/generate_models.py --check    # exit 1, with a diff, if the module is stale

`--output PATH` checks or writes another file (the tests check a tampered copy this way).
"""

from __future__ import annotations

import argparse
import difflib
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = ROOT / "byourside" / "_generated.py"


def generate() -> str:
    """Run the generator into a scratch file and return the module's text."""
    with tempfile.TemporaryDirectory() as scratch:
        target = Path(scratch) / "_generated.py"
        subprocess.run(
            [sys.executable, "-m", "datamodel_code_generator", "--output", str(target)],
            cwd=ROOT,  # the generator reads its options from ROOT/pyproject.toml
            check=True,
        )
        return target.read_text(encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Write the generated module, or with `--check` compare it and return 1 on any difference."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail with a diff if the file differs")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="the module to write or check")
    args = parser.parse_args(argv)

    fresh = generate()
    if not args.check:
        args.output.write_text(fresh, encoding="utf-8")
        print(f"wrote {args.output}")
        return 0

    current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
    if current == fresh:
        print(f"{args.output} is up to date with spec/openapi.yaml")
        return 0
    diff = difflib.unified_diff(
        current.splitlines(keepends=True),
        fresh.splitlines(keepends=True),
        fromfile=f"{args.output} (committed)",
        tofile=f"{args.output} (regenerated)",
    )
    sys.stdout.writelines(diff)
    print(
        f"\n{args.output} differs from what spec/openapi.yaml generates: "
        "run `python scripts/generate_models.py` and commit the result.",
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
