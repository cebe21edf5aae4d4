"""Which days' figures a change touches: the London days of the facts that changed; only the
closing day of a fact that only closed."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from flowsight.services.facts import Assessment, Delay, Referral, Stay
from flowsight.services.journey import JourneyState
from flowsight.services.touched import changed_days

PATIENT = "p" * 64
ADMITTED = "2026-05-01T10:00:00+00:00"
OPEN_STAY = Stay("lth-wards", ADMITTED)
#: Discharged home on 20 May, 19 midnights after the admission.
DISCHARGED = replace(
    OPEN_STAY,
    ended_at="2026-05-20T11:00:00+00:00",
    ended_by="discharge",
    destination="usual_residence",
    pathway="P0",
    nctr_days=3,
)


def days(before: JourneyState, after: JourneyState) -> set[tuple[str, date]]:
    return changed_days([before], [after])


def test_a_new_patient_touches_the_days_of_every_moment_on_the_london_calendar() -> None:
    state = JourneyState(PATIENT)
    state.stays = [Stay("lth-wards", ADMITTED, "2026-05-04T23:30:00+00:00")]
    state.delays = [Delay("lth-wards", "2026-05-03T09:00:00+00:00")]
    state.referrals = [
        Referral("lch-community-beds", "lth-wards", "2026-05-03T12:00:00+00:00", "new")
    ]

    # 23:30 UTC on 4 May is 00:30 on 5 May in London (BST).
    assert days(JourneyState(PATIENT), state) == {
        ("lth-wards", date(2026, 5, 1)),
        ("lth-wards", date(2026, 5, 5)),
        ("lth-wards", date(2026, 5, 3)),
        ("lch-community-beds", date(2026, 5, 3)),
    }


def test_a_review_that_only_says_what_happens_next_touches_no_day() -> None:
    # No figure reads a stay's next step: the caseload does, from the facts, when it is read.
    reviewed = replace(
        OPEN_STAY, next_step="Home tomorrow", reviewed_at="2026-05-09T10:00:00+00:00"
    )
    before, after = (
        JourneyState(PATIENT, stays=[OPEN_STAY]),
        JourneyState(PATIENT, stays=[reviewed]),
    )

    assert days(before, after) == set()
    # Discharged in the same change: the discharge's day only, as without the review.
    discharged = replace(DISCHARGED, next_step="Home tomorrow", reviewed_at=reviewed.reviewed_at)
    assert days(before, JourneyState(PATIENT, stays=[discharged])) == {
        ("lth-wards", date(2026, 5, 20))
    }


def test_a_fact_that_went_away_still_touches_the_days_it_was_on() -> None:
    before = JourneyState(PATIENT, stays=[Stay("lth-wards", "2026-05-02T10:00:00+00:00")])

    assert days(before, JourneyState(PATIENT)) == {("lth-wards", date(2026, 5, 2))}


def test_a_discharge_touches_its_own_day_not_every_day_of_the_stay() -> None:
    before = JourneyState(PATIENT, stays=[OPEN_STAY])
    after = JourneyState(PATIENT, stays=[DISCHARGED])

    assert days(before, after) == {("lth-wards", date(2026, 5, 20))}
    # A discharge moved to another day, or undone, touches the days it was and is on.
    moved = replace(DISCHARGED, ended_at="2026-05-18T11:00:00+00:00")
    assert days(after, JourneyState(PATIENT, stays=[moved])) == {
        ("lth-wards", date(2026, 5, 18)),
        ("lth-wards", date(2026, 5, 20)),
    }
    assert days(after, before) == {("lth-wards", date(2026, 5, 20))}


def test_what_figures_read_before_the_close_touches_every_day_of_the_fact() -> None:
    discharged = JourneyState(PATIENT, stays=[DISCHARGED])
    readmitted = replace(DISCHARGED, readmitted_at="2026-05-25T08:00:00+00:00")
    whole_stay = {("lth-wards", date(2026, 5, 1)), ("lth-wards", date(2026, 5, 20))}
    # A readmission found later: counted by the figures of the stay's days (care homes count it
    # on the placement's start).
    assert days(discharged, JourneyState(PATIENT, stays=[readmitted])) == whole_stay
    # An admission moved: another fact, both versions' days.
    moved = replace(DISCHARGED, started_at="2026-05-02T10:00:00+00:00")
    assert days(discharged, JourneyState(PATIENT, stays=[moved])) == whole_stay | {
        ("lth-wards", date(2026, 5, 2))
    }


def test_a_waiting_referral_s_pathway_corrected_touches_it_from_its_referral() -> None:
    waiting = Referral("lch-community-beds", "lth-wards", "2026-05-03T12:00:00+00:00", "new")
    corrected = replace(waiting, pathway="P2")
    started = replace(corrected, status="started", started_at="2026-05-09T12:00:00+00:00")

    assert days(
        JourneyState(PATIENT, referrals=[waiting]), JourneyState(PATIENT, referrals=[corrected])
    ) == {("lch-community-beds", date(2026, 5, 3))}
    # Its start closes it: the day it started.
    assert days(
        JourneyState(PATIENT, referrals=[corrected]), JourneyState(PATIENT, referrals=[started])
    ) == {("lch-community-beds", date(2026, 5, 9))}


def test_closing_fields_of_a_fact_still_open_touch_its_days() -> None:
    before = JourneyState(PATIENT, stays=[OPEN_STAY])
    after = JourneyState(PATIENT, stays=[replace(OPEN_STAY, destination="usual_residence")])

    assert days(before, after) == {("lth-wards", date(2026, 5, 1))}


def test_facts_not_told_apart_touch_all_their_days() -> None:
    # Two assessments of the same kind opened at the same moment, both completed: which old
    # one became which new one is not known, so every moment counts.
    opened = Assessment("lcc-toc", "social_care", "2026-05-02T09:00:00+00:00")
    before = JourneyState(PATIENT, assessments=[opened, replace(opened, next_step="x")])
    after = JourneyState(
        PATIENT,
        assessments=[
            replace(opened, completed_at="2026-05-06T09:00:00+00:00"),
            replace(opened, completed_at="2026-05-07T09:00:00+00:00", next_step="x"),
        ],
    )

    assert days(before, after) == {
        ("lcc-toc", date(2026, 5, 2)),
        ("lcc-toc", date(2026, 5, 6)),
        ("lcc-toc", date(2026, 5, 7)),
    }
