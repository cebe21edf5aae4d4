"""Which days' figures a change touches: the London days of facts from the change onwards."""

from __future__ import annotations

from datetime import date

from flowsight.services.facts import Delay, Referral, Stay
from flowsight.services.journey import JourneyState
from flowsight.services.touched import touched_days


def test_only_moments_from_the_change_onwards_touch_a_day_on_the_london_calendar() -> None:
    state = JourneyState("p" * 64)
    state.stays = [Stay("lth-wards", "2026-05-01T10:00:00+00:00", "2026-05-04T23:30:00+00:00")]
    state.delays = [Delay("lth-wards", "2026-05-03T09:00:00+00:00")]
    state.referrals = [
        Referral("lch-community-beds", "lth-wards", "2026-05-03T12:00:00+00:00", "new")
    ]

    touched = touched_days([state], since="2026-05-02T00:00:00+00:00")

    # 23:30 UTC on 4 May is 00:30 on 5 May in London (BST); the admission on 1 May is before.
    assert touched == {
        ("lth-wards", date(2026, 5, 5)),
        ("lth-wards", date(2026, 5, 3)),
        ("lch-community-beds", date(2026, 5, 3)),
    }


def test_a_fact_that_went_away_still_touches_the_days_it_was_on() -> None:
    before = JourneyState("p" * 64, stays=[Stay("lth-wards", "2026-05-02T10:00:00+00:00")])
    after = JourneyState("p" * 64)

    assert touched_days([before, after], since="2026-05-02T10:00:00+00:00") == {
        ("lth-wards", date(2026, 5, 2))
    }
