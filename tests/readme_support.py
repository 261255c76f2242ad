"""Reading the README's sections and code blocks, for the tests that run its examples."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def section(title: str) -> str:
    """The text of the README's ``## <title>`` section, up to the next ``## `` heading."""
    readme = README.read_text(encoding="utf-8")
    start = readme.index(f"\n## {title}\n")
    end = readme.find("\n## ", start + 1)
    return readme[start : end if end != -1 else len(readme)]


def blocks(title: str, language: str) -> list[str]:
    """The ``language`` code blocks of that section, in order."""
    return re.findall(rf"```{language}\n(.*?)```", section(title), flags=re.DOTALL)
