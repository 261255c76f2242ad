"""1,000 seeded runs of ordinary programs through a fault-injecting proxy in front of a FakeServer.

Each run (made by `random.Random(seed)`; ``BYOURSIDE_PROXY_SEED=<seed>`` replays one alone) is a
program a user writes (`tests.reliability.proxy_programs`): placements in turn with the README's
"place again when nothing was placed", ``call()``, reads (``get_call``, ``wait_for_call``), or a
``place_calls`` batch read to the end, stopped with ``stop()`` and read on, or abandoned after a
few results (``close()``, ``break``, dropped, its ``with`` block left), sometimes inside the
``except`` block of an unrelated connection error (the program pages someone when a health check
fails). Its client goes through a `FaultProxy` whose
plan gives each request a fault drawn from the run's seed and the request's identity (method,
number, how many such requests came before), so a replay meets the same faults. Most runs focus
on one class of fault (its variants drawn at random), the rest mix them all:

* interim 1xx replies (100, 102, 103; bare or with headers; before, with or just before the reply);
* trickled replies (cut anywhere, the head a byte at a time);
* a reset or close after the request was read: before it reaches the server, before the reply,
  mid-status-line, mid-headers, mid-body;
* garbled or truncated 2xx replies; a reply followed by another request's reply;
* refusals that prove nothing was placed; a gateway's error page after the server got it;
* a connection closed when idle; a reply held past the read timeout, or never sent.

For every run the server's store (what was placed, per number: each number is one person) is
compared with what the program was told, and three things are counted: (a) persons dialled twice,
(b) placed calls unreported (the program never learned the id, and got no ``may_have_placed``
error, no result saying the item's call exists or may, and, for an abandoned batch only, no
WARNING on the ``byourside`` logger naming the call, its number or its item), (c) replies
attributed to the wrong request (an id given for one person that is another's call, a read that
returned another call). Every failure must be a `ByoursideError` with a code. The counts are
printed (``pytest -s``); ``BYOURSIDE_PROXY_RUNS=5000`` runs more.
"""

from __future__ import annotations

import logging
import os
import random
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from functools import partial

import pytest

from byourside import Call
from byourside.testing import FakeServer
from tests.async_support import each_client_kind  # noqa: F401 - the fixture, for pytestmark
from tests.reliability.fault_proxy import Exchange, FaultProxy
from tests.reliability.proxy_faults import FAULT_KINDS, PASS, VARIANTS, Fault, FaultKind, draw_fault
from tests.reliability.proxy_programs import (
    HEALTH_CHECKS,
    STOP_HOWS,
    BatchPlan,
    Told,
    Verdict,
    Warnings,
    call_each,
    dead_port,
    in_except_block,
    judge,
    place_each,
    run_batch,
)
from tests.reliability.support import API_KEY, driven_client
from tests.reliability.test_fault_schedules import ENDINGS

# Every test here runs on Client, then on AsyncClient behind Client's blocking calls (its batch an
# AsyncBatchRun iterated from blocking code): the same programs, faults and judge.
pytestmark = pytest.mark.usefixtures("each_client_kind")

RUNS = int(os.environ.get("BYOURSIDE_PROXY_RUNS", "1000"))
ONLY = os.environ.get("BYOURSIDE_PROXY_SEED")
WORKERS = 10
"""Runs go on this many threads at once, each with its own FakeServer: stalls wait real time."""
RUNS_PER_SERVER = 25
"""A worker starts a fresh FakeServer after this many runs, so reading its store stays cheap."""
READ_TIMEOUT = 0.25
"""The read timeout of a run with stalls; `STALL` is longer, so a stall always times out."""
STALL = READ_TIMEOUT + 0.1
SAFE_READ_TIMEOUT = 5.0

Program = str  # "place", "call", "batch"

# -- the runs ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    seed: int
    program: Program
    numbers: tuple[str, ...]
    """One number a person; the last four digits choose how the call ends (0006: never)."""
    focus: FaultKind | None
    """The one class of fault this run meets; None: all classes mixed."""
    rate: float
    """The share of requests that meet a fault."""
    slow: bool
    """Short read timeouts, and stalls among the faults."""
    max_retries: int
    health_check: str | None
    """The unrelated check in whose ``except`` block the program runs; None: no such block."""
    reads: bool
    batch: BatchPlan | None

    @property
    def kinds(self) -> tuple[FaultKind, ...]:
        if self.focus is not None:
            return (self.focus,)
        return tuple(kind for kind in FAULT_KINDS if kind != "stall" or self.slow)

    @property
    def column(self) -> str:
        """The program, as a column of the summary's table."""
        if self.batch is not None:
            if self.batch.stop_after is None:
                return "batch"
            return "batch stopped" if self.batch.stops else "batch abandoned"
        return self.program + (" in except" if self.health_check else "")

    @property
    def features(self) -> list[str]:
        """What the run does, for the counts by feature."""
        shown = [f"program {self.program}", f"faults {self.focus or 'mixed'}"]
        if self.health_check:
            shown.append(f"in except ({self.health_check})")
        if self.batch is not None:
            shown.append(
                f"{self.column} ({self.batch.stop_how})" if self.batch.stop_after else "batch to the end"
            )
        return shown


def number(seed: int, person: int, ending: str) -> str:
    """A US number of its own for each (seed, person)."""
    return f"+1{201 + seed % 600}{(seed // 600) * 8 + person:03d}{ending}"


def make_run(seed: int) -> Run:
    rng = random.Random(seed)
    program = rng.choice(["place", "place", "call", "batch", "batch"])
    people = rng.randint(2, 5) if program == "batch" else rng.randint(1, 4)
    numbers = tuple(number(seed, person, rng.choice(sorted(ENDINGS))) for person in range(people))
    # Stalls cost real time (a read timeout each): fewer runs focus on them.
    focus = rng.choices([*FAULT_KINDS, None], weights=[1.0] * (len(FAULT_KINDS) - 1) + [0.4, 2.0])[0]
    slow = focus == "stall" or (focus is None and rng.random() < 0.15)
    batch = None
    if program == "batch":
        stop_after = rng.choice([None, None, *range(1, people)])
        stop_how = rng.choice(STOP_HOWS)
        batch = BatchPlan(rng.choice([1, 2, 4]), rng.random() < 0.7, rng.random() < 0.3, stop_after, stop_how)
    return Run(
        seed=seed,
        program=program,
        numbers=numbers,
        focus=focus,
        rate=rng.choice([0.2, 0.35, 0.5]),
        slow=slow,
        max_retries=rng.choice([0, 1, 2]),
        health_check=rng.choice(HEALTH_CHECKS) if rng.random() < 0.3 else None,
        reads=program == "place" and rng.random() < 0.7,
        batch=batch,
    )


def fault_for(run: Run, exchange: Exchange) -> Fault:
    """The fault `exchange` meets in `run`: a function of the seed and the request's identity."""
    rng = random.Random(f"{run.seed}|{exchange.method}|{exchange.subject}|{exchange.occurrence}")
    if rng.random() >= run.rate:
        return PASS
    return draw_fault(rng, rng.choice(run.kinds), stall=STALL)


# -- what the server holds against what the program was told ----------------------------------


@dataclass(frozen=True)
class Outcome:
    run: Run
    verdict: Verdict
    faults: tuple[Fault, ...]
    told: Told
    quiet: bool
    """The proxy drained: every request the client wrote reached the server before judging."""


def execute(run: Run, server: FakeServer, refusing_port: int, warned: Warnings) -> Outcome:
    proxy = FaultProxy(server.base_url, partial(fault_for, run))
    told = Told()
    mark = warned.mark()
    timeout = (2.0, READ_TIMEOUT if run.slow else SAFE_READ_TIMEOUT)
    try:
        with driven_client(proxy.url, timeout=timeout, max_retries=run.max_retries) as client:
            if run.program == "place":
                program = partial(place_each, client, run.numbers, told, reads=run.reads)
            elif run.program == "call":
                program = partial(call_each, client, run.numbers, told)
            else:
                assert run.batch is not None
                program = partial(run_batch, client, run.numbers, told, run.batch)
            if run.health_check is None:
                program()
            else:
                in_except_block(run.health_check, refusing_port, program)
    except Exception as escaped:  # counted: every failure must reach the program as a ByoursideError
        told.error(escaped)
    quiet = proxy.close()
    stored = [call for call in server.calls if call.to in run.numbers]
    said = warned.since(mark)
    if run.column != "batch abandoned":
        warned, said = Warnings(), []  # only an abandoned batch may report a call by a warning
    verdict = judge(run.numbers, stored, told, warned, said)
    return Outcome(run, verdict, tuple(proxy.faults()), told, quiet)


def run_all(seeds: Sequence[int], workers: int = WORKERS) -> dict[int, Outcome]:
    """Run the runs of `seeds`, each worker thread on FakeServers of its own."""
    outcomes: dict[int, Outcome] = {}
    failures: list[BaseException] = []
    warned = Warnings()
    sdk_logger = logging.getLogger("byourside")
    sdk_logger.addHandler(warned)
    holder, refusing_port = dead_port()

    def work(share: Sequence[int]) -> None:
        try:
            for start in range(0, len(share), RUNS_PER_SERVER):
                with FakeServer(instant=True, api_key=API_KEY) as server:
                    for seed in share[start : start + RUNS_PER_SERVER]:
                        outcomes[seed] = execute(make_run(seed), server, refusing_port, warned)
        except BaseException as failure:
            failures.append(failure)

    threads = [threading.Thread(target=work, args=(seeds[i::workers],)) for i in range(workers)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sdk_logger.removeHandler(warned)
        holder.close()
    if failures:
        raise failures[0]
    return outcomes


# -- the counts ------------------------------------------------------------------------------------

COUNTED = ("dialled_twice", "unreported", "misattributed", "not_sdk_errors")
COLUMNS = ("place", "place in except", "call", "call in except", "batch", "batch abandoned", "batch stopped")


def tally(outcomes: Iterator[Outcome]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for outcome in outcomes:
        counts["runs"] += 1
        counts["failed runs"] += outcome.verdict.failed
        for name in COUNTED:
            counts[name] += getattr(outcome.verdict, name)
    return counts


def line(counts: Counter[str]) -> str:
    return (
        f"runs {counts['runs']}: (a) dialled twice {counts['dialled_twice']}, (b) placed unreported "
        f"{counts['unreported']}, (c) misattributed {counts['misattributed']}, not a ByoursideError "
        f"with a code {counts['not_sdk_errors']}"
    )


def missing_variants(outcomes: dict[int, Outcome]) -> list[str]:
    met = Counter((f.kind, f.variant) for o in outcomes.values() for f in o.faults)
    return [
        f"{kind} {variant}" for kind in FAULT_KINDS for variant in VARIANTS[kind] if not met[(kind, variant)]
    ]


def summarise(outcomes: dict[int, Outcome]) -> tuple[str, Counter[str]]:
    totals = tally(iter(outcomes.values()))
    features = sorted({feature for outcome in outcomes.values() for feature in outcome.run.features})
    faults = Counter(fault.kind for outcome in outcomes.values() for fault in outcome.faults)
    codes: Counter[str] = Counter()
    for outcome in outcomes.values():
        codes.update(outcome.told.codes)
    missing = missing_variants(outcomes)
    variants = sum(len(VARIANTS[kind]) for kind in FAULT_KINDS)
    text = [
        f"proxy fault runs: {line(totals)}",
        f"  faults met: {sum(faults.values())}: " + ", ".join(f"{k} {v}" for k, v in sorted(faults.items())),
        f"  fault variants met: {variants - len(missing)} of {variants}"
        + (f"; never: {missing}" if missing else ""),
        "  errors: " + ", ".join(f"{k} {v}" for k, v in sorted(codes.items())),
    ]
    for feature in features:
        sub = tally(o for o in outcomes.values() if feature in o.run.features)
        text.append(f"  {feature}: {line(sub)}")
    text.append("  (a)/(b)/(c) by the class of fault met (rows) and the program (columns):")
    text.append("  " + " " * 12 + "".join(f"{column:>18}" for column in COLUMNS))
    for focus in [*FAULT_KINDS, None]:
        cells = []
        for column in COLUMNS:
            sub = tally(o for o in outcomes.values() if o.run.focus == focus and o.run.column == column)
            counted = "/".join(str(sub[name]) for name in COUNTED[:3])
            cells.append(f"{counted} of {sub['runs']}" if sub["runs"] else "-")
        text.append(f"  {focus or 'mixed':<12}" + "".join(f"{cell:>18}" for cell in cells))
    return "\n".join(text), totals


@pytest.mark.soak
def test_a_thousand_runs_through_the_fault_proxy_dial_once_report_all_attribute_right() -> None:
    seeds = [int(ONLY)] if ONLY is not None else list(range(RUNS))
    outcomes = run_all(seeds)
    summary, totals = summarise(outcomes)
    print("\n" + summary)

    assert len(outcomes) == len(seeds)
    loud = [seed for seed, outcome in outcomes.items() if not outcome.quiet]
    assert not loud, f"the proxy could not drain after runs {loud[:10]}: their ground truth may be short"
    failed = sorted(seed for seed, outcome in outcomes.items() if outcome.verdict.failed)
    shown = [
        f"seed {seed} ({', '.join(outcomes[seed].run.features)}): {outcomes[seed].verdict.details[:3]}"
        for seed in failed[:8]
    ]
    replay = f"replay one: BYOURSIDE_PROXY_SEED={failed[0]} pytest -s {__file__}" if failed else ""
    message = "\n".join([summary, f"failed runs: {len(failed)}", *shown, replay])
    assert totals["dialled_twice"] == 0, message
    assert totals["unreported"] == 0, message
    assert totals["misattributed"] == 0, message
    assert totals["not_sdk_errors"] == 0, message
    if ONLY is None and RUNS >= 1000:
        # The classes are covered, each in every variant, or the zeros prove little.
        assert not missing_variants(outcomes), summary
        features = Counter(feature for o in outcomes.values() for feature in o.run.features)
        assert min(features.values()) >= 10, features


# -- the harness can fail, and replays -------------------------------------------------------------


def _stored(call_id: str, to: str) -> Call:
    return Call.model_validate({"id": call_id, "status": "completed", "to": to})


def test_the_judge_counts_each_kind_of_failure() -> None:
    warned = Warnings()
    a, b = "+12015550123", "+12015550124"
    stored = [_stored("call_1", a), _stored("call_2", a), _stored("call_3", b)]
    told = Told()
    told.learn(a, "call_2")
    told.learn(b, "call_1")  # b was told a's call
    told.reads.append(("call_2", "call_3", b))  # a read of a's call returned b's
    told.error(ValueError("interval"))
    verdict = judge([a, b], stored, told, warned)
    assert (verdict.dialled_twice, verdict.unreported, verdict.misattributed, verdict.not_sdk_errors) == (
        1,
        2,  # call_1 was never told as a's, call_3 never as b's
        2,
        1,
    )
    # An honest "may have placed", or a WARNING naming the call, reports it; a warning naming
    # an item by index counts only among the run's own warnings.
    told.unknown.add(b)
    warned.handle(
        logging.LogRecord("byourside", logging.WARNING, __file__, 1, "item 0 may be placed", None, None)
    )
    assert judge([a, b], stored, told, warned).unreported == 1
    assert judge([a, b], stored, told, warned, ["item 0 may be placed"]).unreported == 0
    assert judge([a, b], stored, told, warned, ["item 01 may be placed"]).unreported == 1
    warned.handle(
        logging.LogRecord("byourside", logging.WARNING, __file__, 1, "unreported: call_1", None, None)
    )
    assert judge([a, b], stored, told, warned).unreported == 0


def test_a_run_replays_the_same_schedule() -> None:
    for seed in (0, 7, 123, 999):
        run = make_run(seed)
        assert run == make_run(seed)
        exchanges = [Exchange("POST", "/v1/agent/calls", run.numbers[0], k) for k in range(20)]
        assert [fault_for(run, e) for e in exchanges] == [fault_for(make_run(seed), e) for e in exchanges]
    # Distinct numbers for every person of every run (each number is one person).
    numbers = [n for seed in range(RUNS) for n in make_run(seed).numbers]
    assert len(numbers) == len(set(numbers))


@pytest.mark.parametrize("program", ["place", "call", "batch"])
def test_without_faults_every_program_learns_each_call_it_placed(program: str) -> None:
    # The same programs and judge with no fault at all: each person is dialled once and the
    # program holds that call's id, so the zeros of the fault runs are not the harness looking away.
    seeds = [s for s in range(80) if make_run(s).program == program][:8]
    runs = [replace(make_run(seed), rate=0.0) for seed in seeds]
    runs = [replace(run, batch=replace(run.batch, stop_after=None)) if run.batch else run for run in runs]
    holder, refusing_port = dead_port()
    with holder, FakeServer(instant=True, api_key=API_KEY) as server:
        for run in runs:
            outcome = execute(run, server, refusing_port, Warnings())
            assert not outcome.verdict.failed, outcome.verdict.details
            stored = {call.to: call.call_id for call in server.calls if call.to in run.numbers}
            assert (
                {n: {i} for n, i in stored.items()}
                == outcome.told.ids
                == {n: {stored[n]} for n in run.numbers}
            )
            assert {fault.kind for fault in outcome.faults} == {"pass"}
