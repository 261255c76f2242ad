"""A faithful local By Your Side Agent API for tests and demos: `FakeServer`, and pytest fixtures.

No one can run the real service in a test: it dials real people. `FakeServer` serves the same
contract on 127.0.0.1 (real HTTP, the spec's replies, the service's error tokens), moves calls
through their lifecycle on a clock a test can drive, signs webhooks exactly as the service does,
and fails on demand::

    from byourside.testing import FakeServer, FakeClock

    with FakeServer(clock=FakeClock()) as server:
        client = Client(api_key=server.api_key, base_url=server.base_url)
        placed = client.place_call(to="+14155550123", objective="Confirm the appointment")
        server.advance(5)                      # the call is answered, talks, and completes
        assert client.get_call(placed.call_id).status == "completed"

Outcomes by the last four digits of the number dialled (`TEST_NUMBERS` has one of each):

==============  ==============================================================================
ends in         outcome
==============  ==============================================================================
``0001``        ``no_answer`` (never answered: only the terminal webhook)
``0002``        ``voicemail`` (answered by a machine: ``call.in_progress``, then terminal)
``0003``        ``declined`` (rejected while ringing: only the terminal webhook)
``0004``        ``failed`` (carrier failure: only the terminal webhook)
``0005``        ``completed`` with every extracted value null (nothing obtained)
``0006``        never ends: stays ``in_progress``
``0007``        ``completed``, passing through ``ringing``, a status the docs never name
anything else   ``completed`` with a value for every field (the seed's ``+14155550123``)
==============  ==============================================================================

Refused before anything is stored: ``+1900``/``+1976`` and other premium prefixes, and every
country but US/CA, GB, AU, NZ and IL (``destination_blocked``). The full rules are in the
private modules' docstrings: ``_guardrails`` (every 400 token), ``_limits`` (rate limit, minutes
cap), ``_faults`` (``server.inject``), ``_webhooks`` (delivery and redelivery), ``_api`` (the
order of checks).

Installing the package also installs a pytest plugin (`byourside.testing.plugin`) with the
fixtures ``byourside_server``, ``byourside_client`` and ``byourside_async_client``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from byourside.testing._clock import Clock, FakeClock, SystemClock
    from byourside.testing._faults import Fault, Route
    from byourside.testing._guardrails import ALLOWED_COUNTRY_CODES, BLOCKED_PREFIXES
    from byourside.testing._http import RecordedRequest
    from byourside.testing._outcomes import TEST_NUMBERS, Outcome, outcome_for
    from byourside.testing._server import (
        DEFAULT_API_KEY,
        DEFAULT_OWNED_NUMBERS,
        DEFAULT_WEBHOOK_SECRET,
        FakeServer,
    )
    from byourside.testing._webhooks import WebhookDelivery

__all__ = [
    "ALLOWED_COUNTRY_CODES",
    "BLOCKED_PREFIXES",
    "DEFAULT_API_KEY",
    "DEFAULT_OWNED_NUMBERS",
    "DEFAULT_WEBHOOK_SECRET",
    "TEST_NUMBERS",
    "Clock",
    "FakeClock",
    "FakeServer",
    "Fault",
    "Outcome",
    "RecordedRequest",
    "Route",
    "SystemClock",
    "WebhookDelivery",
    "outcome_for",
]

# Imported on first use: pytest imports this package for its plugin (`byourside.testing.plugin`)
# in every run of every project that has byourside installed, so the package itself stays empty.
_HOMES = {
    "ALLOWED_COUNTRY_CODES": "_guardrails",
    "BLOCKED_PREFIXES": "_guardrails",
    "DEFAULT_API_KEY": "_server",
    "DEFAULT_OWNED_NUMBERS": "_server",
    "DEFAULT_WEBHOOK_SECRET": "_server",
    "TEST_NUMBERS": "_outcomes",
    "Clock": "_clock",
    "FakeClock": "_clock",
    "FakeServer": "_server",
    "Fault": "_faults",
    "Outcome": "_outcomes",
    "RecordedRequest": "_http",
    "Route": "_faults",
    "SystemClock": "_clock",
    "WebhookDelivery": "_webhooks",
    "outcome_for": "_outcomes",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
