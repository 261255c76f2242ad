"""The operator's policy for `byourside mcp`, on its own: allow-list matching (a property test),
the caps and what frees a slot, the per-day counts kept across a restart, and bad policies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from byourside._mcp._policy import Ledger, Policy, PolicyError, PolicyRefusal

numbers = st.from_regex(r"\+[1-9][0-9]{6,14}", fullmatch=True)


@given(numbers, numbers)
def test_an_exact_entry_allows_exactly_that_number(entry: str, other: str) -> None:
    policy = Policy.build(allow=[entry])
    assert policy.allows(entry)
    assert policy.allows(other) == (other == entry)


@given(numbers, st.integers(min_value=2, max_value=7), numbers)
def test_a_prefix_allows_exactly_the_numbers_under_it(number: str, cut: int, other: str) -> None:
    prefix = number[:cut]
    policy = Policy.build(allow=[prefix + "*"])
    assert policy.allows(number)
    assert policy.allows(other) == other.startswith(prefix)


def test_no_allow_list_refuses_every_placement() -> None:
    with pytest.raises(PolicyRefusal) as refused:
        Policy.build().check_destination("+14155550123")
    assert refused.value.code == "no_allow_list"


def test_off_the_list_is_refused_with_the_list() -> None:
    with pytest.raises(PolicyRefusal) as refused:
        Policy.build(allow=["+1415555*"]).check_destination("+14155560000")
    assert refused.value.code == "destination_not_allowed"
    assert "+1415555*" in refused.value.message


def test_caps_count_reservations_and_a_release_frees_the_slot() -> None:
    ledger = Ledger(Policy.build(allow=["+1*"], max_calls=2, max_calls_per_number_per_day=1))
    ledger.reserve("+14155550001")
    with pytest.raises(PolicyRefusal) as same_number:
        ledger.reserve("+14155550001")
    assert same_number.value.code == "daily_cap_reached"
    ledger.release("+14155550001")  # that request certainly placed nothing
    ledger.reserve("+14155550001")
    ledger.reserve("+14155550002")
    with pytest.raises(PolicyRefusal) as session:
        ledger.reserve("+14155550003")
    assert session.value.code == "session_cap_reached"
    assert ledger.placed_this_session == 2


def test_the_day_resets_the_per_number_count() -> None:
    day = ["2026-11-27"]
    ledger = Ledger(Policy.build(allow=["+1*"], max_calls_per_number_per_day=1), today=lambda: day[0])
    ledger.reserve("+14155550001")
    day[0] = "2026-11-28"
    ledger.reserve("+14155550001")


def test_the_state_file_keeps_the_day_across_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "usage.json"
    policy = Policy.build(allow=["+1*"], max_calls_per_number_per_day=1, state_file=str(state))
    Ledger(policy, today=lambda: "2026-11-27").reserve("+14155550001")
    assert json.loads(state.read_text()) == {"2026-11-27": {"+14155550001": 1}}
    restarted = Ledger(policy, today=lambda: "2026-11-27")
    with pytest.raises(PolicyRefusal) as refused:
        restarted.reserve("+14155550001")
    assert refused.value.code == "daily_cap_reached"


def test_a_long_wait_is_refused() -> None:
    with pytest.raises(PolicyRefusal) as refused:
        Policy.build(max_wait=30).check_wait(31)
    assert refused.value.code == "wait_too_long"


@pytest.mark.parametrize(
    "settings",
    [
        {"allow": "+14155550123"},  # one string, not a list
        {"allow": ["1415555*"]},
        {"allow": ["+1415*555"]},
        {"max_calls": -1},
        {"max_calls": True},
        {"max_calls_per_number_per_day": 1.5},
        {"max_wait": 0},
        {"max_wait": float("inf")},
        {"dry_run": "yes"},
    ],
)
def test_bad_policies_are_refused(settings: dict[str, object]) -> None:
    with pytest.raises(PolicyError):
        Policy.build(**settings)  # type: ignore[arg-type]
