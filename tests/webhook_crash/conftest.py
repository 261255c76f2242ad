"""The webhook crash tests: real receiver processes SIGKILLed mid-handler (marker ``crash``).

They run in the normal ``python -m pytest``; ``-m "not crash"`` leaves them out, ``-m crash``
runs only them. ``receiver_app.py`` is the receiver gunicorn loads: never collected by pytest.
"""

from __future__ import annotations

import pytest

collect_ignore = ["receiver_app.py"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "crash: real receiver processes under gunicorn, workers SIGKILLed mid-handler"
    )
