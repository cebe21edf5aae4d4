"""Runs of scores and the time they cover: a score stands for `SCORED_WITHIN`, readings closer
than that make one run, and a gap longer is time not scored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flowsight.services.escalation import LevelChange
from flowsight.services.level_time import SCORED_WITHIN, ScoredRun, level_time, scored_run

T0 = datetime(2026, 5, 11, 8, tzinfo=UTC)


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


def test_readings_close_together_make_one_run_and_a_gap_a_new_one() -> None:
    run = scored_run(None, "lth-ed", minutes(0))
    assert run == ScoredRun("lth-ed", minutes(0), minutes(0) + SCORED_WITHIN)
    carried = scored_run(run, "lth-ed", minutes(2))
    assert carried == ScoredRun("lth-ed", minutes(0), minutes(2) + SCORED_WITHIN)
    after_a_gap = scored_run(carried, "lth-ed", minutes(6))
    assert after_a_gap == ScoredRun("lth-ed", minutes(6), minutes(6) + SCORED_WITHIN)


def test_time_between_runs_is_not_scored_whatever_the_level_around_it() -> None:
    changes = [LevelChange("lth-ed", 1, 4, minutes(10), "rose")]
    runs = [
        ScoredRun("lth-ed", minutes(0), minutes(20)),
        ScoredRun("lth-ed", minutes(40), minutes(60)),
    ]

    time = level_time(changes, runs, minutes(0), minutes(60))

    assert time.seconds_at_level == {1: 600.0, 2: 0.0, 3: 0.0, 4: 600.0 + 1200.0}
    assert time.seconds_not_scored == 1200.0
    assert time.seconds == 3600.0
    assert (time.level_at_start, time.level_at_end) == (1, 4)


def test_overlapping_runs_count_once_and_runs_are_clipped_to_the_span() -> None:
    runs = [
        ScoredRun("system", minutes(-30), minutes(20)),
        ScoredRun("system", minutes(10), minutes(30)),
    ]

    time = level_time([], runs, minutes(0), minutes(60))

    assert time.seconds_at_level[1] == 1800.0 and time.seconds_not_scored == 1800.0
    assert (time.level_at_start, time.level_at_end) == (1, None)


def test_no_run_is_all_not_scored_and_no_level() -> None:
    changes = [LevelChange("lth-ed", 2, 3, minutes(5), "rose")]

    time = level_time(changes, [], minutes(0), minutes(60))

    assert sum(time.seconds_at_level.values()) == 0 and time.seconds_not_scored == 3600.0
    assert (time.level_at_start, time.level_at_end) == (None, None)
