"""The batch journal: a JSONL file that lets an interrupted batch resume without dialling anyone twice.

One line per event, each written, flushed and fsync'd before the batch goes on:

====================  ===========================================================================
``event``             written
====================  ===========================================================================
(the first line)      ``{"journal": "byourside.batch", "version": 1, "items": N, "digest": ...}``
``snapshot``          once per run, before its first intent: the ids of the account's recent calls
                      (``call_ids``; null when ``list_calls`` failed), the calls that existed
                      before the run's placements and so can never be adopted by them
``intent``            just BEFORE a placement is sent
``placed``            after the service answered with the call's id (``call_id``)
``accepted``          after a 2xx reply whose body could not be read: the call exists, its id is
                      unknown (``code``, ``message``); never placed again
``not_placed``        after a reply that proves nothing was placed (``code``): safe to send again
``unknown``           after a failure that may have placed the call (``code``, ``message``)
``adopted``           an unknown placement matched to a call found with ``list_calls`` (``call_id``)
``unreported``        the program stopped reading results before this item's (``call_id`` when
                      known): a remark for whoever reads the file; it changes no state
====================  ===========================================================================

Every event line but ``snapshot`` carries the item's ``index`` and ``key`` (a hash of its placement
fields), and every line the ``time`` it was written. Reading the journal back gives each item's
phase: ``new`` (never sent, or refused: place it), ``placed`` (has a call id: never place it
again), ``accepted`` (a call exists, its id unknown: never place it again) or ``unknown`` (an
intent with no outcome, because the process died mid-request, or an ``unknown`` event: never
placed again automatically). Each intent remembers the last snapshot before it: only a call that
is not in it may be adopted. A last line cut short by a crash is dropped: it was being written
before the request it announces, so that request was never sent.

While a batch runs, the file is locked (``flock``, where the platform has it): a second run on the
same journal is refused (``journal_in_use``) instead of dialling the same people in parallel.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from byourside.errors import ByoursideError, InvalidRequestError

__all__ = ["ItemState", "Journal", "Phase", "item_key", "proves_accepted"]

_FORMAT = "byourside.batch"
_VERSION = 1
_EVENTS = frozenset({"intent", "placed", "accepted", "not_placed", "unknown", "adopted", "unreported"})

Phase = Literal["new", "placed", "accepted", "unknown"]


def item_key(placement: Mapping[str, Any]) -> str:
    """A short, stable hash of one item's placement fields (the wire body without ``fields``).

    Example:
        >>> one = item_key({"to": "+14155550123", "objective": "Hi"})
        >>> one == item_key({"objective": "Hi", "to": "+14155550123"}), len(one)
        (True, 20)
    """
    canonical = json.dumps(placement, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:20]


def _digest(keys: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(keys).encode()).hexdigest()


@dataclass
class ItemState:
    """What the journal says about one item so far."""

    call_id: str | None = None
    adopted: bool = False
    accepted: bool = False
    intent_pending: bool = False
    unknown_code: str | None = None
    unknown_message: str | None = None
    unknown_status: int = 0
    """The HTTP status of the reply to a placement that was accepted (2xx) or may have placed."""
    baseline: frozenset[str] | None = None
    """The calls that existed before this item's first unsettled intent (its run's snapshot);
    None when unknown (no snapshot, or it failed): then no call can be proved to be this item's."""

    @property
    def phase(self) -> Phase:
        """``placed`` once a call id is known; ``accepted`` when a call exists without a known id;
        ``unknown`` while a placement may have happened."""
        if self.call_id is not None:
            return "placed"
        if self.accepted:
            return "accepted"
        if self.intent_pending or self.unknown_code is not None:
            return "unknown"
        return "new"

    def apply(self, event: str, record: Mapping[str, Any], baseline: frozenset[str] | None = None) -> None:
        """Fold one journal event into the state; `baseline` is the snapshot in force at an intent."""
        if self.call_id is not None:
            return  # a call exists: nothing later can make it not exist
        if event == "intent":
            if self.phase == "new":
                self.baseline = baseline
            self.intent_pending = True
        elif event in ("placed", "adopted"):
            self.call_id = str(record["call_id"])
            self.adopted = event == "adopted"
        elif self.accepted:
            return  # the service accepted a placement: the call exists, whatever comes after
        elif event == "accepted":
            self.accepted = True
            self.intent_pending = False
            self.unknown_code = str(record.get("code") or "invalid_response")
            self.unknown_message = str(record.get("message") or "")
            status = record.get("status")
            self.unknown_status = status if isinstance(status, int) else 200
        elif event == "not_placed":
            self.intent_pending = False
            self.unknown_code = self.unknown_message = None
            self.baseline = None
        elif event == "unknown":
            self.intent_pending = False
            self.unknown_code = str(record.get("code") or "network_error")
            self.unknown_message = str(record.get("message") or "")


def _mismatch(path: Path, detail: str) -> InvalidRequestError:
    return InvalidRequestError(
        f"The journal {str(path)!r} does not belong to these items: {detail}. Resume with the items it "
        "was written for, or start a new batch with another journal file.",
        0,
        "journal_mismatch",
    )


class Journal:
    """Each item's placement state, kept in memory and (with a path) appended to a locked JSONL file.

    Use `Journal.open` for a file and `Journal.in_memory` for a batch without one; every method is
    safe to call from several threads.
    """

    def __init__(self, keys: Sequence[str], path: Path | None = None, file: Any = None) -> None:
        self.keys = list(keys)
        self.path = path
        self.states = [ItemState() for _ in self.keys]
        self._file = file
        self._lock = threading.Lock()
        self._snapshot: frozenset[str] | None = None

    @classmethod
    def in_memory(cls, keys: Sequence[str]) -> Journal:
        """A journal that keeps the states of this run only."""
        return cls(keys)

    @classmethod
    def open(cls, path: str | os.PathLike[str], keys: Sequence[str]) -> Journal:
        """Open (or create) the journal at `path` for the items with these `keys`, and lock it.

        Raises `InvalidRequestError` code ``journal_mismatch`` when the file was written for other
        items (or is not a batch journal), ``journal_in_use`` when another run holds it. Nothing is
        sent before this returns.
        """
        where = Path(path)
        fd = os.open(where, os.O_RDWR | os.O_CREAT, 0o600)
        file = os.fdopen(fd, "r+b")
        try:
            _lock_exclusively(file, where)
            journal = cls(keys, where, file)
            journal._load(file.read())
        except BaseException:
            file.close()
            raise
        return journal

    def _load(self, data: bytes) -> None:
        assert self.path is not None
        assert self._file is not None
        complete = data[: data.rfind(b"\n") + 1]
        if len(complete) != len(data):
            # A line torn by a crash was being written before its request was sent: drop it.
            self._file.truncate(len(complete))
        lines = complete.splitlines()
        if not lines:
            header = {"journal": _FORMAT, "version": _VERSION, "items": len(self.keys)}
            self._append({**header, "digest": _digest(self.keys)})
            _sync_directory(self.path.parent)
            return
        self._check_header(_parse(lines[0], self.path, 1))
        for number, line in enumerate(lines[1:], start=2):
            record = _parse(line, self.path, number)
            index, event = record.get("index"), record.get("event")
            if event == "snapshot":
                self._snapshot = _snapshot_ids(record, self.path, number)
                continue
            if not isinstance(index, int) or not 0 <= index < len(self.keys) or event not in _EVENTS:
                raise _mismatch(self.path, f"line {number} is not a batch journal record")
            if record.get("key") != self.keys[index]:
                raise _mismatch(self.path, f"item {index} is not the item it recorded (line {number})")
            if event in ("placed", "adopted") and not isinstance(record.get("call_id"), str):
                raise _mismatch(self.path, f"line {number} has no call id")
            self.states[index].apply(event, record, self._snapshot)
        self._file.seek(0, os.SEEK_END)

    def _check_header(self, header: Mapping[str, Any]) -> None:
        assert self.path is not None
        if header.get("journal") != _FORMAT or header.get("version") != _VERSION:
            raise _mismatch(self.path, "it is not a byourside batch journal (version 1)")
        if header.get("items") != len(self.keys):
            written_for = header.get("items")
            raise _mismatch(self.path, f"it was written for {written_for} items, these are {len(self.keys)}")
        if header.get("digest") != _digest(self.keys):
            raise _mismatch(self.path, "one or more items differ from the ones it was written for")

    # -- events ----------------------------------------------------------------------------

    def snapshot(self, call_ids: Sequence[str] | None) -> None:
        """Record the calls that exist before this run places anything (None: they are unknown)."""
        ids = None if call_ids is None else list(call_ids)
        record: dict[str, Any] = {"event": "snapshot", "call_ids": ids, "time": _now()}
        with self._lock:
            if self._file is not None:
                self._append(record)
            self._snapshot = None if call_ids is None else frozenset(call_ids)

    def intent(self, index: int) -> None:
        """Record that item `index` is about to be sent (durably, before the request)."""
        self._record(index, "intent")

    def placed(self, index: int, call_id: str) -> None:
        """Record the id of the call item `index` placed."""
        self._record(index, "placed", call_id=call_id)

    def adopted(self, index: int, call_id: str) -> None:
        """Record that an unknown placement of item `index` was matched to call `call_id`."""
        self._record(index, "adopted", call_id=call_id)

    def failed(self, index: int, error: ByoursideError) -> None:
        """Record a failed placement: ``accepted`` when the service answered 2xx (the call exists),
        ``unknown`` when it may have placed the call, else ``not_placed``."""
        if proves_accepted(error):
            self._record(index, "accepted", code=error.code, message=error.message, status=error.status)
        elif error.may_have_placed:
            self._record(index, "unknown", code=error.code, message=error.message)
        else:
            self._record(index, "not_placed", code=error.code)

    def unreported(self, index: int, call_id: str | None) -> None:
        """Record that the program stopped reading results before item `index`'s."""
        self._record(index, "unreported", call_id=call_id)

    def _record(self, index: int, event: str, **data: str | int | None) -> None:
        record = {"event": event, "index": index, "key": self.keys[index], **data}
        record["time"] = _now()
        with self._lock:
            if self._file is not None:
                self._append(record)
            self.states[index].apply(event, record, self._snapshot)

    def _append(self, record: Mapping[str, Any]) -> None:
        self._file.write(json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode() + b"\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    # -- reading -----------------------------------------------------------------------------

    def state(self, index: int) -> ItemState:
        """A copy of item `index`'s state."""
        with self._lock:
            current = self.states[index]
            return ItemState(**vars(current))

    def claimed_call_ids(self) -> set[str]:
        """Every call id some item holds: a call found with list_calls is adopted only if not here."""
        with self._lock:
            return {s.call_id for s in self.states if s.call_id is not None}

    def phases(self) -> list[Phase]:
        """Each item's phase, in item order."""
        with self._lock:
            return [s.phase for s in self.states]

    def close(self) -> None:
        """Close (and so unlock) the file."""
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


def proves_accepted(error: ByoursideError) -> bool:
    """Whether a failed placement was answered 2xx: the service accepted it, so the call exists
    (its reply could not be read, so its id is unknown)."""
    return error.may_have_placed and 200 <= error.status < 300


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def _snapshot_ids(record: Mapping[str, Any], path: Path, number: int) -> frozenset[str] | None:
    ids = record.get("call_ids")
    if ids is None:
        return None
    if not isinstance(ids, list) or not all(isinstance(call_id, str) for call_id in ids):
        raise _mismatch(path, f"line {number} is not a batch journal record")
    return frozenset(ids)


def _parse(line: bytes, path: Path, number: int) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except ValueError:
        record = None
    if not isinstance(record, dict):
        raise _mismatch(path, f"line {number} is not JSON")
    return record


def _lock_exclusively(file: Any, path: Path) -> None:
    if sys.platform == "win32":  # no flock; documented: do not run two batches on one journal
        return
    import fcntl

    try:
        fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as busy:
        raise InvalidRequestError(
            f"The journal {str(path)!r} is in use by another running batch; wait for it to finish "
            "(running both would dial the same people twice).",
            0,
            "journal_in_use",
        ) from busy


def _sync_directory(directory: Path) -> None:
    # The new file's directory entry must survive a crash too, or the journal vanishes with it.
    if sys.platform == "win32":
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
