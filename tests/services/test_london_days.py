"""Lost bed days count midnights on the NHS's clock (Europe/London), whatever the server's zone,
across the clock changes, however often a refresh asks."""

from __future__ import annotations

from datetime import UTC, datetime

from flowsight.services.delays import period_lost_bed_days
from flowsight.services.facts import Delay, london_day, midnights

# 23:30 UTC on 24 October 2026 is 00:30 on the 25th in London (BST); the clocks go back at 02:00
# that morning, so 00:30 UTC on the 27th is 00:30 GMT on the 27th: two London midnights between
# them (the 26th and the 27th), where UTC's calendar has three.
READY = "2026-10-24T23:30:00.000000Z"
ENDED = "2026-10-27T00:30:00.000000Z"


def test_a_timestamp_falls_on_its_london_day_either_side_of_the_clock_change() -> None:
    assert (london_day(READY).isoformat(), london_day(ENDED).isoformat()) == (
        "2026-10-25",
        "2026-10-27",
    )


def test_a_delay_across_the_clock_change_loses_its_london_midnights_every_time_it_is_counted() -> (
    None
):
    delay = Delay(service="lth-wards", started_at=READY, ended_at=ENDED)
    week = (datetime(2026, 10, 19, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC))
    as_of = datetime(2026, 11, 1, tzinfo=UTC)
    # Asked again and again, as every refresh does: the same answer each time.
    counted = {
        (midnights(READY, ENDED), period_lost_bed_days([delay], *week, as_of)) for _ in range(3)
    }
    assert counted == {(2, 2)}
    assert midnights(READY, datetime(2026, 10, 27, 0, 30, tzinfo=UTC)) == 2
