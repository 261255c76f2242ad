"""What a batch does with a placement it cannot report plainly: one whose outcome is unknown, one
the service accepted without a readable reply, and one whose result the program never read.

* An unknown (or accepted) placement is looked for with ``list_calls``: a call to the same number
  with the same objective, claimed by no other item, and not in the snapshot journaled before the
  item's intent (so made after it), is adopted when it is the only one. Otherwise the item is
  reported with the candidates' ids, and never placed again unless the caller asked
  (``retry_unknown``) and no candidate may be its call; an accepted placement never is.
* When the program abandons the results, every call placed (or maybe placed) by an item this run
  worked on and not reported is logged at WARNING on the ``byourside`` logger and journaled.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from byourside._batch import BatchResult, BatchStatus
from byourside._batch_steps import BatchFlow, Exclusive, ListRecent
from byourside._journal import proves_accepted
from byourside._models import Call
from byourside.errors import ByoursideError

if TYPE_CHECKING:
    from byourside._batch_run import _Run

__all__ = ["LIST_LIMIT", "list_recent", "resolve_placement", "warn_unreported"]

LIST_LIMIT = 100
"""How many recent calls are listed (the service's most): for the snapshot and for matching."""

logger = logging.getLogger("byourside")


def list_recent() -> BatchFlow[list[Call]]:
    """The account's `LIST_LIMIT` most recent calls (one request: pace it with `Pacer.paced`)."""
    calls: list[Call] = yield ListRecent(LIST_LIMIT)
    return calls


def resolve_placement(
    run: _Run, index: int, error: ByoursideError, *, may_retry: bool, resumed: bool = False
) -> BatchFlow[BatchResult[Any]]:
    """Look for the call an unknown placement may have made; adopt it, or report it unresolved.

    Only a call that did not exist before the item's intent (not in the snapshot journaled
    before it) may be adopted. With `may_retry` (``retry_unknown``, for what an earlier run
    left unknown) an item with no call that may be its own is placed again; a placement the
    service accepted (2xx) never is.
    """
    state = run.journal.state(index)
    accepted = proves_accepted(error) or state.phase == "accepted"
    unresolved: BatchStatus = "placed" if accepted else "unknown"
    try:
        # Exclusive: two items must not adopt the same call.
        found: _Found = yield Exclusive("resolving", _match(run, index))
    except ByoursideError as failed:
        note = f"list_calls failed ({failed.code}): look for the call before placing it again"
        note = _accepted_note(note) if accepted else note
        return run.result(index, unresolved, error=error, note=note, resumed=resumed)
    if found.adopted is not None:
        run.progress.placed(index)
        note = (
            f"adopted call {found.adopted}, found with list_calls (same number and objective, "
            "made after the intent)"
        )
        return (yield from run.follow(index, found.adopted, adopted=True, resumed=resumed, note=note))
    matches, maybe_its_own, twins = found.matches, found.maybe_its_own, found.twins
    if not maybe_its_own and may_retry and not accepted:
        return (yield from run.place(index))
    if accepted:
        run.progress.placed(index)
        note = _accepted_note(_candidates_note(matches, maybe_its_own, found.no_baseline, twins))
    else:
        note = _unresolved_note(matches, maybe_its_own, found.no_baseline, twins)
    return run.result(index, unresolved, error=error, note=note, resumed=resumed, candidates=tuple(matches))


@dataclass(frozen=True)
class _Found:
    """What `list_calls` showed for an unresolved placement, and the call adopted, if one was."""

    matches: list[str]
    maybe_its_own: list[str]
    twins: list[int]
    no_baseline: bool
    adopted: str | None


def _match(run: _Run, index: int) -> BatchFlow[_Found]:
    """List the recent calls and adopt the one that is provably this item's, if there is one."""
    item = run.items[index]
    recent = yield from run.pacer.paced(list_recent, places_call=False)
    claimed = run.journal.claimed_call_ids()
    matches = [
        call.call_id
        for call in recent
        if call.to == item.to and call.objective == item.objective and call.call_id not in claimed
    ]
    # Calls in the snapshot existed before the intent: never this item's. Without a
    # snapshot (an older journal, a failed list) no call can be proved to be its own.
    baseline = run.journal.state(index).baseline
    maybe_its_own = matches if baseline is None else [m for m in matches if m not in baseline]
    adoptable = [] if baseline is None else maybe_its_own
    # A twin item (same number and objective) whose own placement is unsettled could be
    # the owner of any match: then no match is provably this item's.
    twins = [
        other
        for other, twin in enumerate(run.items)
        if other != index
        and (twin.to, twin.objective) == (item.to, item.objective)
        and run.journal.state(other).phase in ("unknown", "accepted")
    ]
    adopted = adoptable[0] if len(adoptable) == 1 and not twins else None
    if adopted is not None:
        run.journal.adopted(index, adopted)
    return _Found(matches, maybe_its_own, twins, baseline is None, adopted)


def warn_unreported(run: _Run, reported: set[int]) -> None:
    """Log (and journal) each item this run worked on whose call exists, or may exist, and
    whose result the consumer never received."""
    for index in sorted(run.started - reported):
        state = run.journal.state(index)
        if state.call_id is not None:
            what = f"call {state.call_id} was placed"
        elif state.phase == "accepted":
            what = "the service accepted its placement (a call exists; its id could not be read)"
        elif state.phase == "unknown":
            what = "its placement may have placed a call (outcome unknown: look with list_calls)"
        else:
            continue
        logger.warning(
            "place_calls was abandoned before reporting item %d: %s, and never reported",
            index,
            what,
        )
        try:
            run.journal.unreported(index, state.call_id)
        except OSError as failed:
            logger.warning("could not journal item %d as unreported: %s", index, failed)


def _accepted_note(note: str) -> str:
    return (
        "the service accepted this placement (2xx) but its reply could not be read: the call "
        f"exists and is never placed again; {note}"
    )


def _unresolved_note(
    matches: list[str], maybe_its_own: list[str], no_baseline: bool, twins: list[int]
) -> str:
    """Why an unknown placement was not resolved, and what the caller can do."""
    found = _candidates_note(matches, maybe_its_own, no_baseline, twins)
    if not maybe_its_own:
        return f"{found}; if it was not placed, run again with retry_unknown=True to place it"
    return f"{found}: look at them before placing again"


def _candidates_note(
    matches: list[str], maybe_its_own: list[str], no_baseline: bool, twins: list[int]
) -> str:
    if not matches:
        return f"no matching call among the {LIST_LIMIT} most recent"
    older = len(matches) - len(maybe_its_own)
    note = (
        f"list_calls shows {len(matches)} call(s) to this number with this objective that no other "
        f"item claims ({', '.join(matches)})"
    )
    if no_baseline:
        note += "; which calls existed before this placement is not known (no snapshot)"
    elif older:
        note += f"; {older} of them existed before this placement"
    if twins:
        note += f", and item(s) {twins} to them are unsettled too"
    return note
