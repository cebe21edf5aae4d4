"""Hours at each OPEL level in the weekly report: elapsed hours, so a week with a clock change
has 167 or 169 of them, whether or not its level changed; time not scored is at no level."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from flowsight.services.escalation import LevelChange
from flowsight.services.level_time import ScoredRun
from flowsight.services.report import week_period, week_pressure

AFTER = datetime(2026, 12, 1, tzinfo=UTC)


def scored_all_week(scope: str, week: str) -> list[ScoredRun]:
    start, end = week_period(week)
    return [ScoredRun(scope, start - timedelta(days=1), end + timedelta(days=1))]


@pytest.mark.parametrize(("week", "hours"), [("2026-W13", 167.0), ("2026-W43", 169.0)])
def test_a_week_with_a_clock_change_has_its_elapsed_hours(week: str, hours: float) -> None:
    start, end = week_period(week)
    runs = scored_all_week("lth-ed", week)

    steady = week_pressure("lth-ed", [], runs, start, end, AFTER)
    wednesday = start + timedelta(days=2)  # before the change, on the week's Sunday
    changes = [LevelChange("lth-ed", 1, 2, wednesday, "queue")]
    changed = week_pressure("lth-ed", changes, runs, start, end, AFTER)
    unscored = week_pressure("lth-ed", changes, [], start, end, AFTER)

    assert sum(steady.hours_at_level.values()) == hours
    assert sum(changed.hours_at_level.values()) == hours
    assert unscored.hours_not_scored == hours and sum(unscored.hours_at_level.values()) == 0


def test_an_ordinary_week_has_168_hours() -> None:
    start, end = week_period("2026-W20")
    pressure = week_pressure("system", [], scored_all_week("system", "2026-W20"), start, end, AFTER)
    assert sum(pressure.hours_at_level.values()) == 168.0
    assert pressure.hours_not_scored == 0 and pressure.share_not_scored == 0
    assert pressure.share_at_level == {1: 100.0, 2: 0.0, 3: 0.0, 4: 0.0}


def test_a_two_day_outage_is_not_scored_and_no_level() -> None:
    """Scored Monday to Wednesday at OPEL 2, then the worker down until Friday: 48 hours not
    scored, not 48 more at the level before or after."""
    start, end = week_period("2026-W20")
    wednesday, friday = start + timedelta(days=2), start + timedelta(days=4)
    runs = [ScoredRun("lth-ed", start, wednesday), ScoredRun("lth-ed", friday, end)]
    changes = [LevelChange("lth-ed", 1, 2, start + timedelta(hours=6), "queue")]

    pressure = week_pressure("lth-ed", changes, runs, start, end, AFTER)

    assert pressure.hours_at_level == {1: 6.0, 2: 42.0 + 72.0, 3: 0.0, 4: 0.0}
    assert pressure.hours_not_scored == 48.0
    assert pressure.share_not_scored == 28.6  # 48 of 168 hours, of the whole week
    assert pressure.share_at_level[2] == 67.9
    assert (pressure.level_at_start, pressure.level_at_end) == (1, 2)
    assert (pressure.escalations, pressure.de_escalations) == (1, 0)


def test_a_week_begun_before_the_first_score_starts_not_scored() -> None:
    start, end = week_period("2026-W20")
    first = start + timedelta(days=3)
    changes = [LevelChange("lth-ed", 1, 3, first, "first score")]

    pressure = week_pressure(
        "lth-ed", changes, [ScoredRun("lth-ed", first, end)], start, end, AFTER
    )

    assert pressure.hours_at_level == {1: 0.0, 2: 0.0, 3: 96.0, 4: 0.0}
    assert pressure.hours_not_scored == 72.0
    assert (pressure.level_at_start, pressure.level_at_end) == (None, 3)


def test_the_running_week_is_over_its_time_so_far() -> None:
    """Scored to three minutes after the latest score; the worker stopped since: the week so far
    ends not scored, at no level."""
    start, end = week_period("2026-W20")
    now = start + timedelta(days=1)
    runs = [ScoredRun("system", start, start + timedelta(hours=18))]

    pressure = week_pressure("system", [], runs, start, end, now)

    assert pressure.hours_at_level[1] == 18.0 and pressure.hours_not_scored == 6.0
    assert pressure.share_not_scored == 25.0
    assert (pressure.level_at_start, pressure.level_at_end) == (1, None)


def test_another_scopes_runs_and_changes_are_not_its_own() -> None:
    start, end = week_period("2026-W20")
    runs = scored_all_week("lth-wards", "2026-W20")
    changes = [LevelChange("lth-wards", 1, 4, start, "beds")]

    pressure = week_pressure("lth-ed", changes, runs, start, end, AFTER)

    assert pressure.hours_not_scored == 168.0 and pressure.escalations == 0
