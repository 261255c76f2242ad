"""How every call on the fake server ends, chosen by the last four digits of the number dialled.

Like a payment provider's test card numbers, these make every outcome reproducible. Any allowed
number works; only its last four digits count (``+1 415 555 0123`` and ``+44 20 7946 0123`` end
the same way):

==============  ==============================  ===============================================
ends in         outcome                         what happens
==============  ==============================  ===============================================
``0001``        ``no_answer``                   rings out; never answered
``0002``        ``voicemail``                   a machine answers; the AI leaves a message
``0003``        ``declined``                    the callee rejects the ringing call
``0004``        ``failed``                      the carrier cannot complete the call
``0005``        ``completed``, nothing learned  answered, but every ``extracted`` value is null
``0006``        never ends                      answered, then stays ``in_progress`` forever
``0007``        ``completed`` via ``ringing``   passes through ``ringing``, a status the docs
                                                never name, between ``queued`` and ``in_progress``
anything else   ``completed``                   the seed's ``+14155550123``: every value obtained
==============  ==============================  ===============================================

An answered call (``completed``, ``voicemail``, never-ending) goes ``queued`` -> ``in_progress`` ->
its end and sends ``call.in_progress`` then the terminal event. An unanswered one (``no_answer``,
``declined``, ``failed``) goes straight from ``queued`` to its end and sends only the terminal
event, as the contract says, with ``startedAt``, ``recordingUrl`` and ``transcript`` null.

A completed call's ``extracted`` has a value for every requested field, fitting its type and
name: ``boolean`` -> ``true``; ``number`` -> a whole number picked from the name; ``string`` ->
a plausible phrase for the name (``new_time`` -> ``"tomorrow at 3pm"``). Like the service's AI,
it follows what a field's description asks for, as typed extraction writes it: ``One of: 'a',
'b'.`` -> the first allowed value; an ISO 8601 date, date and time, or HH:MM time -> one in that
format. Other outcomes report every field as null (not obtained).
"""

from __future__ import annotations

import ast
import hashlib
import re
from dataclasses import dataclass
from typing import Any

from byourside import _generated as wire

__all__ = ["OUTCOMES_BY_SUFFIX", "TEST_NUMBERS", "CallReport", "Outcome", "outcome_for", "report_for"]


@dataclass(frozen=True)
class Outcome:
    """How a call ends: its terminal status (None: never ends) and what happens on the way."""

    status: str | None
    answered: bool = True
    values_obtained: bool = True
    interim_status: str | None = None


OUTCOMES_BY_SUFFIX: dict[str, Outcome] = {
    "0001": Outcome("no_answer", answered=False, values_obtained=False),
    "0002": Outcome("voicemail", values_obtained=False),
    "0003": Outcome("declined", answered=False, values_obtained=False),
    "0004": Outcome("failed", answered=False, values_obtained=False),
    "0005": Outcome("completed", values_obtained=False),
    "0006": Outcome(None, values_obtained=False),
    "0007": Outcome("completed", interim_status="ringing"),
}
"""The special endings; every other number completes with every value obtained."""

_COMPLETES = Outcome("completed")

TEST_NUMBERS: dict[str, str] = {
    "completed": "+14155550123",
    "no_answer": "+14155550001",
    "voicemail": "+14155550002",
    "declined": "+14155550003",
    "failed": "+14155550004",
    "nothing_obtained": "+14155550005",
    "never_ends": "+14155550006",
    "unknown_status": "+14155550007",
    "blocked": "+19001234567",
}
"""One number for each behaviour of the fake server, like a payment provider's test cards."""


def outcome_for(number: str) -> Outcome:
    """The outcome the fake server gives a call to ``number``.

    >>> outcome_for("+14155550123").status, outcome_for("+14155550001").status
    ('completed', 'no_answer')
    """
    return OUTCOMES_BY_SUFFIX.get(number[-4:], _COMPLETES)


@dataclass(frozen=True)
class CallReport:
    """What a call's record says once it has ended."""

    summary: str
    transcript: str | None
    extracted: dict[str, Any]


# Keyword -> value, first match on the lower-cased field name wins.
_STRING_VALUES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("email",), "alex.morgan@example.com"),
    (("phone", "callback"), "+14155550123"),
    (("time", "when", "slot", "hour"), "tomorrow at 3pm"),
    (("date", "day"), "next Tuesday"),
    (("name", "who", "contact"), "Alex Morgan"),
    (("address", "location", "where"), "1 Market Street, San Francisco"),
    (("reason", "why", "note", "comment"), "The callee had nothing to add."),
)
_NUMBER_VALUES: tuple[tuple[tuple[str, ...], int], ...] = (
    (("guest", "people", "party", "count", "size", "seat"), 2),
    (("price", "cost", "amount", "total", "fee", "quote"), 120),
    (("minute", "duration", "wait"), 15),
)

_UNANSWERED_SUMMARIES = {
    "no_answer": "Nobody answered the call.",
    "declined": "The callee declined the call.",
    "failed": "The call could not be completed.",
}


def extracted_value(field: wire.FieldSpec) -> bool | int | str:
    """The value a completed call reports for ``field``: deterministic, fitting its type and name.

    >>> extracted_value(wire.FieldSpec(name="confirmed", type="boolean"))
    True
    >>> extracted_value(wire.FieldSpec(name="new_time"))
    'tomorrow at 3pm'
    >>> extracted_value(wire.FieldSpec(name="party_size", type="number"))
    2
    """
    hinted = _value_the_description_asks_for(field.description or "")
    if hinted is not None:
        return hinted
    name = field.name.lower()
    if field.type == "boolean":
        return True
    if field.type == "number":
        for keywords, number in _NUMBER_VALUES:
            if any(keyword in name for keyword in keywords):
                return number
        return 10 + int(hashlib.sha256(field.name.encode()).hexdigest()[:8], 16) % 90
    for keywords, text in _STRING_VALUES:
        if any(keyword in name for keyword in keywords):
            return text
    return f"the callee's {field.name.replace('_', ' ')}"


_ONE_OF = re.compile(r"One of: (.+?)\.(?:\s|$)")
_FORMAT_EXAMPLES = (
    ("ISO 8601 date and time", "2026-11-26T15:00:00+00:00"),
    ("YYYY-MM-DD", "2026-11-26"),
    ("HH:MM", "15:00"),
)


def _value_the_description_asks_for(description: str) -> bool | int | str | None:
    """The first allowed value, or a value in the asked format, when the description says so.

    >>> _value_the_description_asks_for("Why they cancel. One of: 'sick', 'travel'.")
    'sick'
    >>> _value_the_description_asks_for("An ISO 8601 date, YYYY-MM-DD, e.g. 2026-11-25.")
    '2026-11-26'
    """
    match = _ONE_OF.search(description)
    if match:
        try:
            allowed = ast.literal_eval(f"[{match.group(1)}]")
        except (ValueError, SyntaxError):
            allowed = []
        if allowed and isinstance(allowed[0], (bool, int, str)):
            return allowed[0]
    for hint, example in _FORMAT_EXAMPLES:
        if hint in description:
            return example
    return None


def report_for(
    status: str, objective: str, fields: tuple[wire.FieldSpec, ...], values_obtained: bool
) -> CallReport:
    """The summary, transcript and extracted values of a call that ended with ``status``."""
    if not values_obtained:
        extracted: dict[str, Any] = {field.name: None for field in fields}
    else:
        extracted = {field.name: extracted_value(field) for field in fields}
    opening = f"AI: Hello, I'm an AI assistant calling on someone's behalf. {objective}"
    if status in _UNANSWERED_SUMMARIES:
        return CallReport(_UNANSWERED_SUMMARIES[status], None, extracted)
    if status == "voicemail":
        transcript = f"{opening}\nAI: Please call us back at your convenience. Goodbye."
        return CallReport(f"Reached voicemail and left a message about: {objective}", transcript, extracted)
    lines = [opening]
    if values_obtained:
        lines.append("Callee: Sure, go ahead.")
        for field in fields:
            lines.append(f"AI: {_question(field)}")
            lines.append(f"Callee: {_spoken(extracted[field.name])}")
        summary = f"The callee was reached and the objective was addressed: {objective}"
    else:
        lines.append("Callee: Sorry, I can't help with that right now.")
        summary = f"The callee was reached but could not help with: {objective}"
    lines.append("AI: Thank you for your time. Goodbye.")
    return CallReport(summary, "\n".join(lines), extracted)


def _question(field: wire.FieldSpec) -> str:
    topic = field.description or field.name.replace("_", " ")
    if field.type == "boolean":
        return f"Just to check, yes or no: {topic}?"
    return f"And what about {topic}?"


def _spoken(value: object) -> str:
    if value is True:
        return "Yes."
    return f"It's {value}."
