"""A run of days computed over the facts each can count gives every figure it gave over all."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowsight.services.facts import LONDON, Assessment, Attendance, Delay, Referral, Stay
from flowsight.services.kpis import Period, ServiceFacts
from flowsight.services.overlap import facts_per_period
from flowsight.services.report import figures_of, period_moment
from flowsight.services.timestamps import utc_timestamp
from tests.services.city import CATALOGUE

#: Ten London days over the autumn clock change (a 25-hour day among them).
FIRST_DAY = date(2026, 10, 20)
DAYS = [FIRST_DAY + timedelta(days=n) for n in range(10)]
START = datetime.combine(FIRST_DAY, time(0), tzinfo=LONDON)
HOURS = 10 * 24 + 1


def day_period(day: date) -> Period:
    start = datetime.combine(day, time(0), tzinfo=LONDON)
    return Period(start, datetime.combine(day + timedelta(days=1), time(0), tzinfo=LONDON))


# From a day before the first to a day after the last, on the hour or a minute before it.
moments = st.builds(
    lambda hour, early: utc_timestamp(START + timedelta(hours=hour, minutes=-early)),
    st.integers(-24, HOURS + 24),
    st.sampled_from([0, 1]),
)
maybe = st.none() | moments
services = st.sampled_from([service.id for service in CATALOGUE.services])
stays = st.builds(
    Stay,
    services,
    moments,
    maybe,  # an end before the start too: what a day is given must not assume order
    st.sampled_from([None, "discharge", "transfer"]),
    destination=st.sampled_from([None, "usual_residence", "died", "care_home"]),
    pathway=st.sampled_from([None, "P0", "P1", "P3"]),
    start_care_hours=st.none() | st.floats(0, 40),
    end_care_hours=st.none() | st.floats(0, 40),
    independent=st.none() | st.booleans(),
    care_type=st.sampled_from([None, "nursing", "residential"]),
    readmitted_at=maybe,
    nctr_days=st.none() | st.integers(0, 9),
)
delays = st.builds(Delay, services, moments, maybe, st.sampled_from([None, "awaiting_care"]))
referrals = st.builds(
    Referral,
    services,
    services,
    moments,
    st.sampled_from(["new", "accepted", "declined", "withdrawn", "started"]),
    pathway=st.sampled_from([None, "P0", "P2"]),
    priority=st.sampled_from([None, "2h", "routine"]),
    decided_at=maybe,
    started_at=maybe,
)
attendances = st.builds(
    Attendance, services, st.just("e"), moments, maybe, st.sampled_from([None, "admitted"])
)
assessments = st.builds(Assessment, services, st.just("toc"), moments, maybe)
service_facts = st.builds(
    ServiceFacts,
    st.lists(stays, max_size=12),
    st.lists(delays, max_size=8),
    st.lists(referrals, max_size=10),
    st.lists(attendances, max_size=10),
    st.lists(assessments, max_size=8),
)


@settings(max_examples=150, deadline=None)
@given(service_facts, st.integers(0, HOURS - 1), st.integers(0, len(DAYS) - 1))
def test_every_figure_of_a_run_of_days_is_the_same_over_the_facts_each_day_is_given(
    facts: ServiceFacts, now_hour: int, skip: int
) -> None:
    now = START + timedelta(hours=now_hour, minutes=30)
    today = now.astimezone(LONDON).date()
    # The days a refresh computes: up to today, not always every one of them.
    days = [day for n, day in enumerate(DAYS) if day <= today and n != skip] or [today]
    periods = [day_period(day) for day in days]
    as_of = [period_moment(period, now) for period in periods]
    each = list(facts_per_period(facts, periods, as_of))
    for service in CATALOGUE.services:
        for period, moment, given_facts in zip(periods, as_of, each, strict=True):
            assert figures_of(service, given_facts, period, moment) == figures_of(
                service, facts, period, moment
            ), (service.id, period.start)


def test_a_day_is_not_given_what_ended_before_it_or_began_after_it() -> None:
    def stay(start: str, end: str | None) -> Stay:
        return Stay("lth-wards", start, end, "discharge" if end else None)

    gone = stay("2026-10-01T09:00:00.000000Z", "2026-10-03T10:00:00.000000Z")
    long_stay = stay("2026-10-01T09:00:00.000000Z", None)
    same_day = stay("2026-10-21T08:00:00.000000Z", "2026-10-21T15:00:00.000000Z")
    later = stay("2026-10-25T08:00:00.000000Z", None)
    facts = ServiceFacts(stays=[later, same_day, gone, long_stay])
    now = datetime(2026, 10, 26, 12, tzinfo=UTC)
    periods = [day_period(DAYS[1]), day_period(DAYS[6])]
    as_of = [period_moment(period, now) for period in periods]

    on_21st, on_26th = facts_per_period(facts, periods, as_of)

    assert on_21st.stays == [same_day, long_stay]  # in the order given
    assert on_26th.stays == [later, long_stay]


def test_periods_out_of_order_are_refused() -> None:
    periods = [day_period(DAYS[3]), day_period(DAYS[2])]
    now = datetime(2026, 10, 29, tzinfo=UTC)

    with pytest.raises(ValueError, match="out of order"):
        list(facts_per_period(ServiceFacts(), periods, [period_moment(p, now) for p in periods]))
