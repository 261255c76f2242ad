"""The fake server's calls: stored per API key, each moving along a timeline fixed when placed.

A call's timeline comes from its outcome (`byourside.testing._outcomes`) and the server's ring
and talk durations at the moment it was placed. Nothing moves by itself: `CallStore.advance` is
called with the clock's time (on every request, after every `FakeClock.advance`, and by the
server's background thread under real time) and applies every step that is due, returning the
transitions so the server can send their webhook events.
"""

from __future__ import annotations

import itertools
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from byourside import _generated as wire
from byourside._models import TERMINAL_STATUSES
from byourside.testing._guardrails import PlaceRequest
from byourside.testing._outcomes import CallReport, Outcome, outcome_for, report_for

__all__ = ["CallStore", "StoredCall", "Transition"]

DEFAULT_VOICE = "Aoede"
RECORDING_URL = "https://recordings.byourside.invalid/{call_id}.mp3"
"""Recording URLs point at the reserved ``.invalid`` domain: nothing is ever fetched."""

# Scripts the fake can tell apart when it infers a language; anything else is English.
_SCRIPT_LANGUAGES = (("\u0400", "\u04ff", "ru-RU"), ("\u0590", "\u05ff", "he-IL"))


def infer_language(*texts: str | None) -> str:
    """The language the fake infers from an objective and context: by script, else ``en-US``.

    >>> infer_language("Confirm the appointment", None), infer_language("Подтвердите запись")
    ('en-US', 'ru-RU')
    """
    for text in texts:
        for char in text or "":
            for low, high, language in _SCRIPT_LANGUAGES:
                if low <= char <= high:
                    return language
    return "en-US"


@dataclass
class StoredCall:
    """One call on the fake server and where it is on its timeline."""

    call_id: str
    owner_key: str
    request: PlaceRequest
    outcome: Outcome
    placed_at: datetime
    sequence: int
    language: str
    language_source: str
    voice: str
    billed_minutes: int
    steps: list[tuple[datetime, str]]
    status: str = "queued"
    started_at: datetime | None = None
    ended_at: datetime | None = None
    report: CallReport | None = None

    @property
    def is_terminal(self) -> bool:
        """Whether the call has reached its last status."""
        return self.ended_at is not None

    def to_wire(self, id_key: Literal["id", "callId"] = "id") -> dict[str, Any]:
        """The call as the service reports it, keyed ``id`` (GET) or ``callId`` (list items)."""
        report = self.report
        answered_and_ended = report is not None and self.started_at is not None
        recording_url = RECORDING_URL.format(call_id=self.call_id) if answered_and_ended else None
        call = wire.Call.model_validate(
            {
                id_key: self.call_id,
                "status": self.status,
                "to": self.request.to,
                "objective": self.request.objective,
                "context": self.request.context,
                "summary": report.summary if report else None,
                "extracted": report.extracted if report else None,
                "transcript": report.transcript if report else None,
                "recordingUrl": recording_url,
                "startedAt": self.started_at,
                "endedAt": self.ended_at,
            }
        )
        return call.to_wire()


@dataclass(frozen=True)
class Transition:
    """A call reached ``status`` at ``at``; ``snapshot`` is its wire form right then."""

    call_id: str
    status: str
    at: datetime
    webhook_url: str | None
    snapshot: dict[str, Any]
    sequence: int


@dataclass
class CallStore:
    """Every call placed on one fake server, in placement order."""

    _calls: dict[str, StoredCall] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _sequence: itertools.count[int] = field(default_factory=itertools.count)

    def place(
        self,
        owner_key: str,
        request: PlaceRequest,
        now: datetime,
        ring_seconds: float,
        talk_seconds: float,
        billed_minutes: int,
    ) -> StoredCall:
        """Store a new ``queued`` call and fix its timeline from its outcome and the durations."""
        outcome = outcome_for(request.to)
        explicit = request.language is not None and request.language != "auto"
        with self._lock:
            call = StoredCall(
                call_id=f"call_{uuid.uuid4().hex}",
                owner_key=owner_key,
                request=request,
                outcome=outcome,
                placed_at=now,
                sequence=next(self._sequence),
                language=request.language
                if explicit and request.language
                else infer_language(request.objective, request.context),
                language_source="explicit" if explicit else "inferred",
                voice=request.voice or DEFAULT_VOICE,
                billed_minutes=billed_minutes,
                steps=_timeline(outcome, now, ring_seconds, talk_seconds),
            )
            self._calls[call.call_id] = call
            return call

    def get(self, owner_key: str, call_id: str) -> dict[str, Any] | None:
        """The wire form of ``call_id`` if ``owner_key`` placed it, else None (``not_found``)."""
        with self._lock:
            call = self._calls.get(call_id)
            if call is None or call.owner_key != owner_key:
                return None
            return call.to_wire("id")

    def recent(self, owner_key: str, limit: int, id_key: Literal["id", "callId"]) -> list[dict[str, Any]]:
        """The ``limit`` most recent calls of ``owner_key``, newest first."""
        with self._lock:
            mine = [call for call in self._calls.values() if call.owner_key == owner_key]
            mine.sort(key=lambda call: call.sequence, reverse=True)
            return [call.to_wire(id_key) for call in mine[:limit]]

    def all_wire(self) -> list[dict[str, Any]]:
        """Every stored call of every key, oldest first, keyed ``id``."""
        with self._lock:
            return [call.to_wire("id") for call in self._calls.values()]

    def advance(self, now: datetime) -> list[Transition]:
        """Apply every step due by ``now``, in time order; return the transitions made."""
        transitions: list[Transition] = []
        with self._lock:
            for call in self._calls.values():
                while call.steps and call.steps[0][0] <= now:
                    at, status = call.steps.pop(0)
                    _enter(call, status, at)
                    transitions.append(
                        Transition(
                            call_id=call.call_id,
                            status=status,
                            at=at,
                            webhook_url=call.request.webhook_url,
                            snapshot=call.to_wire("id"),
                            sequence=call.sequence,
                        )
                    )
        transitions.sort(key=lambda transition: (transition.at, transition.sequence))
        return transitions

    def next_step_at(self) -> datetime | None:
        """When the next pending step of any call is due, or None when nothing is pending."""
        with self._lock:
            due = [call.steps[0][0] for call in self._calls.values() if call.steps]
        return min(due, default=None)


def _timeline(
    outcome: Outcome, placed_at: datetime, ring_seconds: float, talk_seconds: float
) -> list[tuple[datetime, str]]:
    answer_at = placed_at + timedelta(seconds=ring_seconds)
    steps: list[tuple[datetime, str]] = []
    if outcome.interim_status is not None:
        steps.append((placed_at + timedelta(seconds=ring_seconds / 2), outcome.interim_status))
    if not outcome.answered:
        assert outcome.status is not None, "an unanswered call always ends"
        steps.append((answer_at, outcome.status))
        return steps
    steps.append((answer_at, "in_progress"))
    if outcome.status is not None:
        steps.append((answer_at + timedelta(seconds=talk_seconds), outcome.status))
    return steps


def _enter(call: StoredCall, status: str, at: datetime) -> None:
    call.status = status
    if status == "in_progress":
        call.started_at = at
    elif status in TERMINAL_STATUSES:
        call.ended_at = at
        call.report = report_for(
            status, call.request.objective, call.request.fields, call.outcome.values_obtained
        )
