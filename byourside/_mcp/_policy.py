"""The operator's policy for `byourside mcp`: whom the agent may call, how often, how long it may wait.

Pure Python, no `mcp` import: the policy is checked before any request and tested on its own.

* An allow-list of destinations is required to place calls. An entry is an exact E.164 number
  (``+14155550123``) or a prefix ending in ``*`` (``+1415555*``); a prefix needs the ``*`` so that
  a short number is never taken for a prefix by accident. With no allow-list, reads still work.
* Caps: calls placed in this server's session, and calls to one destination in one UTC day. A
  placement that may have happened counts (the person may have been dialled); one refused before
  it reached the service (by the SDK's checks or a 4xx guardrail) does not.
* `max_wait` bounds the `wait_for_call` tool's timeout; `dry_run` checks and reports, places nothing.

The day's counts live in memory, and in a small JSON file when the operator names one
(``--state-file``), so a restarted server keeps counting the same day.
"""

from __future__ import annotations

import json
import math
import os
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

__all__ = [
    "CONFIG_KEYS",
    "DEFAULT_MAX_CALLS",
    "DEFAULT_MAX_CALLS_PER_NUMBER_PER_DAY",
    "DEFAULT_MAX_WAIT",
    "Ledger",
    "Policy",
    "PolicyError",
    "PolicyRefusal",
    "load_config",
]

DEFAULT_MAX_CALLS = 10
"""Calls one server session may place unless the operator says otherwise."""

DEFAULT_MAX_CALLS_PER_NUMBER_PER_DAY = 2
"""Calls to one destination per UTC day unless the operator says otherwise."""

DEFAULT_MAX_WAIT = 600.0
"""The longest `wait_for_call` timeout (seconds) an agent may ask for unless the operator says otherwise."""

_EXACT = re.compile(r"\+[1-9][0-9]{1,14}")
_PREFIX = re.compile(r"\+[1-9][0-9]{0,14}\*")

CONFIG_KEYS = frozenset(
    {"allow", "max_calls", "max_calls_per_number_per_day", "max_wait", "dry_run", "state_file"}
)
"""The keys a policy file may hold; any other key is refused, so a typo never loosens the policy."""


class PolicyError(ValueError):
    """The operator's policy itself is wrong (a bad allow-list entry, a negative cap): refused at start."""


class PolicyRefusal(Exception):
    """A request the policy refuses; `code` is what the agent reads.

    Codes: ``no_allow_list``, ``destination_not_allowed``, ``session_cap_reached``,
    ``daily_cap_reached``, ``wait_too_long``.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _check_entry(entry: object) -> str:
    if not isinstance(entry, str) or not (_EXACT.fullmatch(entry) or _PREFIX.fullmatch(entry)):
        raise PolicyError(
            f"allow-list entry {entry!r} is neither an E.164 number (+14155550123) "
            "nor a prefix ending in * (+1415555*)"
        )
    return entry


def _whole(name: str, value: object, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise PolicyError(f"{name} must be a whole number of at least {minimum}, got {value!r}")
    return value


def _seconds(name: str, value: object) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value <= 0
    ):
        raise PolicyError(f"{name} must be a positive number of seconds, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class Policy:
    """What the agent may do. Build it with `Policy.build`, which checks every value.

    Example:
        >>> policy = Policy.build(allow=["+1415555*", "+442071234567"])
        >>> policy.allows("+14155550123"), policy.allows("+14155560123"), policy.allows("+442071234567")
        (True, False, True)
    """

    allow: tuple[str, ...] = ()
    max_calls: int = DEFAULT_MAX_CALLS
    max_calls_per_number_per_day: int = DEFAULT_MAX_CALLS_PER_NUMBER_PER_DAY
    max_wait: float = DEFAULT_MAX_WAIT
    dry_run: bool = False
    state_file: Path | None = None

    @classmethod
    def build(
        cls,
        *,
        allow: Iterable[object] = (),
        max_calls: object = DEFAULT_MAX_CALLS,
        max_calls_per_number_per_day: object = DEFAULT_MAX_CALLS_PER_NUMBER_PER_DAY,
        max_wait: object = DEFAULT_MAX_WAIT,
        dry_run: object = False,
        state_file: object = None,
    ) -> Policy:
        """A checked policy, or `PolicyError` naming the value at fault."""
        if isinstance(allow, (str, bytes)):
            raise PolicyError("allow must be a list of numbers or prefixes, not one string")
        if not isinstance(dry_run, bool):
            raise PolicyError(f"dry_run must be true or false, got {dry_run!r}")
        if state_file is not None and not isinstance(state_file, (str, os.PathLike)):
            raise PolicyError(f"state_file must be a path, got {state_file!r}")
        return cls(
            allow=tuple(dict.fromkeys(_check_entry(entry) for entry in allow)),
            max_calls=_whole("max_calls", max_calls, minimum=0),
            max_calls_per_number_per_day=_whole(
                "max_calls_per_number_per_day", max_calls_per_number_per_day, minimum=0
            ),
            max_wait=_seconds("max_wait", max_wait),
            dry_run=dry_run,
            state_file=Path(state_file) if state_file is not None else None,
        )

    def allows(self, number: str) -> bool:
        """Whether `number` is on the allow-list (exactly, or under a ``*`` prefix)."""
        return any(
            number.startswith(entry[:-1]) if entry.endswith("*") else number == entry for entry in self.allow
        )

    def check_destination(self, number: str) -> None:
        """Raise `PolicyRefusal` unless calls to `number` are allowed."""
        if not self.allow:
            raise PolicyRefusal(
                "no_allow_list",
                "This server has no allow-list, so it places no calls (reading calls still works). "
                "The operator must start it with --allow NUMBER_OR_PREFIX*.",
            )
        if not self.allows(number):
            raise PolicyRefusal(
                "destination_not_allowed",
                f"{number} is not on the allow-list; calls may go only to: {', '.join(self.allow)}",
            )

    def check_wait(self, timeout: float) -> None:
        """Raise `PolicyRefusal` when a wait is longer than the operator allows."""
        if timeout > self.max_wait:
            raise PolicyRefusal(
                "wait_too_long",
                f"timeout {timeout:g} s is over the operator's maximum of {self.max_wait:g} s",
            )


def load_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The policy file's settings (JSON), or `PolicyError` for an unreadable file or an unknown key."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise PolicyError(f"cannot read the policy file {os.fspath(path)!r}: {error}") from None
    if not isinstance(data, dict):
        raise PolicyError(f"the policy file {os.fspath(path)!r} must hold a JSON object")
    unknown = sorted(set(data) - CONFIG_KEYS)
    if unknown:
        raise PolicyError(
            f"unknown key(s) in the policy file: {', '.join(unknown)}; known: {sorted(CONFIG_KEYS)}"
        )
    return data


def _today() -> str:
    return datetime.now(timezone.utc).date().isoformat()


@dataclass
class Ledger:
    """Counts the calls placed (or possibly placed) and enforces the caps, thread-safely.

    `reserve` takes a slot before the request; `release` gives it back when the request certainly
    placed nothing. A slot is kept for a call placed and for one that may have been.
    """

    policy: Policy
    today: Callable[[], str] = _today
    _session: int = 0
    _daily: dict[str, dict[str, int]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        path = self.policy.state_file
        if path is not None and path.exists():
            try:
                loaded = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as error:
                raise PolicyError(f"cannot read the state file {os.fspath(path)!r}: {error}") from None
            if isinstance(loaded, Mapping):
                self._daily = {
                    str(day): {str(k): int(v) for k, v in counts.items()}
                    for day, counts in loaded.items()
                    if isinstance(counts, Mapping)
                }

    @property
    def placed_this_session(self) -> int:
        """Slots taken in this session."""
        return self._session

    def reserve(self, number: str) -> None:
        """Take a slot for a call to `number`, or raise `PolicyRefusal` when a cap is reached."""
        with self._lock:
            if self._session >= self.policy.max_calls:
                raise PolicyRefusal(
                    "session_cap_reached",
                    f"this server session may place at most {self.policy.max_calls} call(s), "
                    "and that many have been placed or may have been",
                )
            day = self.today()
            counts = self._daily.setdefault(day, {})
            if counts.get(number, 0) >= self.policy.max_calls_per_number_per_day:
                raise PolicyRefusal(
                    "daily_cap_reached",
                    f"{number} has had {counts.get(number, 0)} call(s) today (UTC), the operator's "
                    f"maximum is {self.policy.max_calls_per_number_per_day} per number per day",
                )
            self._session += 1
            counts[number] = counts.get(number, 0) + 1
            self._save(day)

    def release(self, number: str) -> None:
        """Give back the slot of a request that certainly placed nothing."""
        with self._lock:
            self._session = max(0, self._session - 1)
            day = self.today()
            counts = self._daily.get(day, {})
            if counts.get(number, 0) > 0:
                counts[number] -= 1
            self._save(day)

    def _save(self, day: str) -> None:
        path = self.policy.state_file
        if path is None:
            return
        # Only today's counts matter; older days are dropped so the file stays small.
        self._daily = {day: self._daily.get(day, {})}
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_text(json.dumps(self._daily), encoding="utf-8")
        os.replace(temporary, path)
