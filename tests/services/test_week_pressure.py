"""Hours at each OPEL level in the weekly report: elapsed hours, so a week with a clock change
has 167 or 169 of them, whether or not its level changed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from flowsight.services.escalation import LevelChange
from flowsight.services.report import week_period, week_pressure

AFTER = datetime(2026, 12, 1, tzinfo=UTC)


@pytest.mark.parametrize(("week", "hours"), [("2026-W13", 167.0), ("2026-W43", 169.0)])
def test_a_week_with_a_clock_change_has_its_elapsed_hours(week: str, hours: float) -> None:
    start, end = week_period(week)

    steady = week_pressure("lth-ed", [], start, end, AFTER)
    wednesday = start + timedelta(days=2)  # before the change, on the week's Sunday
    changed = week_pressure(
        "lth-ed", [LevelChange("lth-ed", 1, 2, wednesday, "queue")], start, end, AFTER
    )

    assert sum(steady.hours_at_level.values()) == hours
    assert sum(changed.hours_at_level.values()) == hours


def test_an_ordinary_week_has_168_hours() -> None:
    start, end = week_period("2026-W20")
    assert sum(week_pressure("system", [], start, end, AFTER).hours_at_level.values()) == 168.0
