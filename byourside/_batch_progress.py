"""A batch's reporting, shared by both drivers: results counted and handed on (in item order with
``ordered``), and the calls placed but never reported logged when the results are abandoned."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from byourside._batch import BatchResult

if TYPE_CHECKING:
    from byourside._batch_run import _Run

__all__ = ["Reporter"]


class Reporter:
    """What both drivers do with the results their workers finish: count them, put them in
    order (with ``ordered``), note each one handed to the program, and at the end log the calls
    placed but never reported, and close the journal."""

    def __init__(self, run: _Run, ordered: bool) -> None:
        self._run = run
        self._ordered = ordered
        self._held: dict[int, BatchResult[Any]] = {}
        self._next = 0
        self._reported: set[int] = set()
        for index, phase in enumerate(run.journal.phases()):
            if phase == "placed":
                run.progress.placed(index)

    def ready(self, finished: list[BatchResult[Any]]) -> list[BatchResult[Any]]:
        """The results to hand on now, of those just `finished`, in the order to hand them."""
        out: list[BatchResult[Any]] = []
        for result in sorted(finished, key=lambda r: r.index):
            self._run.progress.finished(result)
            if not self._ordered:
                out.append(result)
                continue
            self._held[result.index] = result
            while self._next in self._held:
                out.append(self._held.pop(self._next))
                self._next += 1
        return out

    def delivered(self, result: BatchResult[Any]) -> BatchResult[Any]:
        """`result`, noted as reported: call just before handing it to the program."""
        self._reported.add(result.index)
        return result

    def close(self) -> None:
        """Log (and journal) what was placed and never reported; close the journal."""
        try:
            self._run.warn_unreported(self._reported)
        finally:
            self._run.journal.close()
