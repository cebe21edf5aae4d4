"""Escalation over time (SPEC section 6): up at once, down only after the hold period."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flowsight.services.escalation import (
    CATCHING_UP,
    DEFAULT_HOLD,
    NO_FIGURES,
    NO_THRESHOLDS,
    Escalation,
    LevelChange,
    is_first_score,
    not_scored_reason,
)

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


def test_de_escalation_goes_to_the_level_that_held_then_further_once_that_holds() -> None:
    ward = Escalation("lth-wards", level=4)
    assert ward.observe(1, minutes(0)) is None
    assert ward.observe(2, minutes(10)) is None  # at or below 2 since 0; at or below 1 broken
    assert ward.observe(1, minutes(20)) is None  # at or below 1 since 20
    change = ward.observe(1, minutes(40))  # <= 2 (and <= 3) for 40 min, <= 1 for only 20
    assert change is not None and (change.from_level, change.to_level) == (4, 2)
    assert "held for 30 minutes" in change.reason
    assert ward.observe(1, minutes(49)) is None  # <= 1 for 29 min
    change = ward.observe(1, minutes(50))
    assert change is not None and (change.from_level, change.to_level) == (2, 1)


def test_a_scope_never_read_has_no_published_level_and_its_first_reading_escalates_from_1() -> None:
    ucr = Escalation("lch-ucr")
    assert ucr.published is None  # unknown, not level 1
    assert not_scored_reason(ucr.published, None) == NO_FIGURES
    assert not_scored_reason(ucr.published, 3) == CATCHING_UP  # scored, levels held
    assert not_scored_reason(None, None, thresholds=False) == NO_THRESHOLDS
    change = ucr.observe(3, minutes(0))
    assert change is not None and (change.from_level, change.to_level) == (1, 3)
    assert change.reason == "first scored: level 3, with no earlier score"  # not "rose from 1"
    assert is_first_score(change.reason)
    assert ucr.published == 3 and not_scored_reason(ucr.published, 3) is None
    later = ucr.observe(4, minutes(1))
    assert later is not None and later.reason == "rose to level 4 from 3"
    assert not is_first_score(later.reason)
    # Read back as stored, a scope never read is still not published.
    assert Escalation.from_dict(Escalation("lth-ed").to_dict()).published is None
    quiet = Escalation("lcc-home-care")
    assert quiet.observe(1, minutes(0)) is None and quiet.published == 1  # read: steady


def test_a_short_hold_period_is_respected() -> None:
    ed = Escalation("lth-ed", hold=timedelta(minutes=5), level=3)
    assert ed.observe(1, minutes(0)) is None
    change = ed.observe(1, minutes(5))
    assert change is not None and change.to_level == 1 and not change.escalation


def test_a_reading_older_than_the_last_one_changes_nothing() -> None:
    ed = Escalation("lth-ed")
    assert ed.observe(3, minutes(10)) is not None
    assert ed.observe(4, minutes(5)) is None
    assert ed.level == 3


@pytest.mark.parametrize("level", [0, 5, -1])
def test_a_level_outside_1_to_4_is_refused_naming_the_scope(level: int) -> None:
    with pytest.raises(ValueError, match="lth-ed: an OPEL level is 1 to 4"):
        Escalation("lth-ed").observe(level, T0)


def test_a_reading_without_a_time_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        Escalation("lth-ed").observe(2, datetime(2026, 11, 23, 9, 0))


def test_the_state_survives_a_json_round_trip_in_the_middle_of_a_hold() -> None:
    ed = Escalation("lth-ed", hold=timedelta(minutes=20))
    ed.observe(4, minutes(0))
    ed.observe(2, minutes(5))  # lower since 5
    restored = Escalation.from_dict(json.loads(json.dumps(ed.to_dict())))
    assert restored == ed
    assert restored.observe(2, minutes(24)) is None  # 19 min
    change = restored.observe(2, minutes(25))  # 20 min: the restored hold period and start
    assert change is not None and (change.from_level, change.to_level) == (4, 2)


def test_a_corrupt_state_is_refused() -> None:
    with pytest.raises(ValueError, match="not an escalation state"):
        Escalation.from_dict({"scope": "x", "hold_seconds": "soon", "level": 2})


def test_an_alert_id_is_the_same_for_the_same_change_and_differs_otherwise() -> None:
    change = LevelChange("lth-ed", 2, 3, minutes(10), "rose")
    assert change.alert_id == LevelChange("lth-ed", 2, 3, minutes(10), "other").alert_id
    assert change.alert_id != LevelChange("lth-ed", 2, 3, minutes(11), "rose").alert_id
    assert change.alert_id != LevelChange("lth-wards", 2, 3, minutes(10), "rose").alert_id


gaps_within_hold = st.lists(
    st.integers(min_value=0, max_value=int(DEFAULT_HOLD.total_seconds()) - 1),
    min_size=1,
    max_size=40,
)


@given(low=st.integers(1, 3), high_first=st.booleans(), gaps=gaps_within_hold)
def test_readings_oscillating_faster_than_the_hold_period_never_flap(
    low: int, high_first: bool, gaps: list[int]
) -> None:
    # Readings alternate low, low+1, low, ... each less than the hold period after the last.
    escalation = Escalation("lth-ed", level=low)
    at = T0
    changes = []
    for index, gap in enumerate([0, *gaps]):
        at += timedelta(seconds=gap)
        reading = low + 1 if (index % 2 == 0) == high_first else low
        if (change := escalation.observe(reading, at)) is not None:
            changes.append(change)
    # Exactly one escalation, at the first high reading, and never a de-escalation.
    assert [(c.from_level, c.to_level) for c in changes] == [(low, low + 1)]


@given(
    st.lists(
        st.tuples(st.integers(1, 4), st.integers(min_value=0, max_value=3 * 3600)),
        min_size=1,
        max_size=60,
    )
)
def test_escalation_invariants_for_any_readings(readings: list[tuple[int, int]]) -> None:
    escalation = Escalation("system")
    times: list[datetime] = []
    levels: list[int] = []
    at = T0
    for reading, gap in readings:
        at += timedelta(seconds=gap)
        times.append(at)
        levels.append(reading)
        before = escalation.level
        change = escalation.observe(reading, at)
        after = escalation.level

        def held(level: int, at: datetime = at) -> bool:
            # Some reading at least a hold period ago began a run of readings all <= level.
            run_start = len(levels) - 1
            while run_start >= 0 and levels[run_start] <= level:
                if at - times[run_start] >= DEFAULT_HOLD:
                    return True
                run_start -= 1
            return False

        assert after >= reading  # escalation is immediate
        assert not any(held(lower) for lower in range(1, after))  # never stuck too high
        if after < before:
            assert held(after)  # never down before the lower level held
        if after > before:
            assert after == reading
        if after == before:
            assert change is None
        else:
            assert change is not None and (change.from_level, change.to_level) == (before, after)
