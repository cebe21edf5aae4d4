"""Numbers a bed manager signs off: UCR acceptance, the hub's queue, pressure and the seed figures.

Each scenario publishes the events a source would send, replays them as the worker does, and
checks the figure a bed manager (or the on-call lead) reads, with the arithmetic worked by hand.
"""

from __future__ import annotations

from flowsight.schemas.catalogue import Threshold
from flowsight.services.kpis import Period, pressure_period, service_figures, system_figures
from flowsight.services.pressure import score_service, score_system
from flowsight.services.report import weekly_report
from tests.services.city import CATALOGUE, City, no_criteria, utc
from tests.services.pressure_services import ED, WARDS, service

WEEK = ("2026-05-04T00:00:00+01:00", "2026-05-11T00:00:00+01:00")


def to_ucr(city: City, patient: int, *steps: tuple[str, str]) -> None:
    """The ED refers `patient` to UCR; each step is (the time on 5 May, the referral's status)."""
    for at, status in steps:
        city.publish(
            "referral",
            "lth-ed",
            f"2026-05-05T{at}:00+01:00",
            patient,
            to_service="lch-ucr",
            status=status,
        )


def test_a_referral_that_goes_straight_to_a_start_counts_as_accepted() -> None:
    city = City()
    to_ucr(city, 0, ("09:00", "new"))
    city.publish(
        "admission", "lch-ucr", "2026-05-05T10:00:00+01:00", 0, admission_method="start_of_care"
    )
    to_ucr(city, 1, ("09:30", "new"), ("11:00", "declined"))
    ucr = city.figures("lch-ucr", *WEEK)
    # Two decided: one started (an acceptance), one declined: 1 / 2 = 50 %.
    assert ucr["referrals_accepted_pct"] == 50.0
    assert ucr["referrals_decided"] == 2


def test_a_referral_accepted_then_withdrawn_or_ended_by_a_death_was_still_accepted() -> None:
    city = City()
    for patient in range(3):
        to_ucr(city, patient, ("09:00", "new"), ("09:10", "accepted"))
    # The first is withdrawn by its referrer; the second patient dies in hospital.
    to_ucr(city, 0, ("12:00", "withdrawn"))
    city.publish(
        "admission", "lth-wards", "2026-05-05T08:00:00+01:00", 1, admission_method="emergency"
    )
    city.publish("discharge", "lth-wards", "2026-05-05T13:00:00+01:00", 1, destination="died")
    to_ucr(city, 3, ("09:00", "new"), ("09:20", "declined"))

    ucr = city.figures("lch-ucr", *WEEK)

    # Four decisions, three of them acceptances: 75 % (it read 2 decided, 50 %).
    assert (ucr["referrals_decided"], ucr["referrals_accepted_pct"]) == (4, 75.0)
    assert ucr["queue_length"] == 1  # only the third accepted patient still waits


def test_the_transfer_of_care_hubs_queue_is_its_open_assessments() -> None:
    city = City()
    # Two referrals to the hub; it opens three assessments (one patient needs two kinds).
    for patient in (0, 1):
        city.publish(
            "referral",
            "lth-wards",
            "2026-05-05T09:00:00+01:00",
            patient,
            to_service="lth-toc-hub",
            status="new",
        )
    city.publish(
        "assessment", "lth-toc-hub", "2026-05-05T10:00:00+01:00", 0, kind="care_act", status="open"
    )
    city.publish(
        "assessment", "lth-toc-hub", "2026-05-05T11:00:00+01:00", 0, kind="chc", status="open"
    )
    city.publish(
        "assessment", "lth-toc-hub", "2026-05-05T12:00:00+01:00", 2, kind="care_act", status="open"
    )
    hub = city.figures("lth-toc-hub", *WEEK, now="2026-05-05T14:00:00+01:00")
    # Queue = open assessments = 3 (not the 2 referrals); the oldest opened 4 hours ago.
    assert (hub["queue_length"], hub["open_assessments"], hub["longest_wait_hours"]) == (3, 3, 4.0)


def _ed_with(city: City, departures: list[tuple[str, str]]) -> None:
    for number, (arrived, departed) in enumerate(departures):
        city.publish(
            "attendance",
            "lth-ed",
            arrived,
            episode_id=f"ED-{number}",
            arrived_at=arrived,
            departed_at=departed,
            outcome="discharged",
            event_id=f"att-{number}",
        )


def test_one_breach_just_after_midnight_does_not_escalate_the_ed() -> None:
    city = City()
    # Yesterday evening 20 departures within 4 hours; one breach leaves at 00:05.
    _ed_with(
        city,
        [
            (f"2026-05-05T{h:02d}:{m:02d}:00+01:00", f"2026-05-05T{h + 1:02d}:{m:02d}:00+01:00")
            for h in (18, 19)
            for m in range(0, 50, 5)
        ]
        + [("2026-05-05T19:00:00+01:00", "2026-05-06T00:05:00+01:00")],
    )
    now = utc("2026-05-06T00:10:00+01:00")
    ed = CATALOGUE.service("lth-ed")
    assert ed is not None
    facts = city.facts("lth-ed")
    # "Today" so far: 1 departure, 1 breach = 100 %, but a sample of 1 is not scored.
    today = service_figures(ed, facts, Period(utc("2026-05-06T00:00:00+01:00"), now), now)
    assert score_service(ed, today).level == 1  # queue 0 -> level 1; the rate is not scored
    assert (today["departures"], today["four_hour_breach_pct"]) == (1, 100.0)
    # The last 24 hours: 21 departures, 1 breach: 1 / 21 = 4.8 % -> level 1.
    window = service_figures(ed, facts, pressure_period(now), now)
    assert (window["departures"], window["four_hour_breach_pct"]) == (21, 4.8)
    assert score_service(ed, window).level == 1


def test_a_rate_on_a_sample_big_enough_is_scored() -> None:
    # 40 % of 50 departures reaches 35 (level 3), weight 2; queue 95 is level 3: OPEL 3.
    score = score_service(ED, {"queue_length": 95, "four_hour_breach_pct": 40, "departures": 50})
    assert score.level == 3
    # The same rate of 4 departures is shown but not scored: the queue 10 alone, level 1.
    small = score_service(ED, {"queue_length": 10, "four_hour_breach_pct": 40, "departures": 4})
    assert {i.name: i.level for i in small.indicators}["four_hour_breach_pct"] is None
    assert small.level == 1


def test_an_acute_opel_4_is_not_averaged_away_by_quiet_community_services() -> None:
    ed = score_service(ED, {"queue_length": 130, "four_hour_breach_pct": 50, "departures": 300})
    wards = score_service(WARDS, {"occupancy_pct": 99, "delayed_count": 260})
    assert (ed.level, wards.level) == (4, 4)
    quiet = [
        score_service(
            service(
                f"community-{n}",
                "reablement",
                queue_length=Threshold(level2=15, level3=25, level4=40),
            ),
            {"queue_length": 0},
        )
        for n in range(6)
    ]
    system = score_system([ed, wards, *quiet])
    # Mean (4 + 4 + 6 * 1) / 8 = 1.75 -> OPEL 2; the acute floor (4 + 4) / 2 = 4 -> OPEL 4.
    assert (system.score, system.level) == (1.75, 4)
    assert system.acute_level == 4


def test_the_seed_flow_figures() -> None:
    city = City()
    # Patient 0: in the wards 10 days, a delay of 4 midnights; waiting for reablement on P1.
    city.publish(
        "admission", "lth-wards", "2026-04-28T10:00:00+01:00", 0, admission_method="emergency"
    )
    no_criteria(city, "2026-05-04T10:00:00+01:00", service="lth-wards", patient=0)
    city.publish(
        "referral",
        "lth-wards",
        "2026-05-04T11:00:00+01:00",
        0,
        to_service="lcc-reablement",
        pathway="P1",
        status="new",
    )
    # Patient 1: in reablement, ready to move on to home care since the 6th: a hidden delay.
    city.publish(
        "admission",
        "lcc-reablement",
        "2026-05-01T10:00:00+01:00",
        1,
        admission_method="start_of_care",
    )
    no_criteria(city, "2026-05-06T10:00:00+01:00", service="lcc-reablement", patient=1)
    # Patient 2: a care-home placement started from the hub this week.
    city.publish(
        "admission",
        "lcc-care-homes",
        "2026-05-05T10:00:00+01:00",
        2,
        admission_method="start_of_care",
    )
    now = "2026-05-08T12:00:00+01:00"
    wards = city.figures("lth-wards", *WEEK, now=now)
    # In since 28 April: 10 midnights -> 7+ yes, 14+ no. Delay from 4 May: 4 midnights -> band 4_6.
    assert (wards["long_stay_7_plus"], wards["long_stay_14_plus"]) == (1, 0)
    assert (wards["delayed_days_4_6"], wards["delayed_days_21_plus"]) == (1, 0)
    reablement = city.figures("lcc-reablement", *WEEK, now=now)
    assert (reablement["queue_p1"], reablement["queue_p2"]) == (1, 0)
    # The hidden delay counts in reablement: 1 delayed, 2 midnights (7th, 8th) at home, which
    # are no lost bed days: reablement holds no bed (they were shown as its lost bed days).
    assert (reablement["delayed_count"], reablement["delayed_days_home_based"]) == (1, 2)
    assert "lost_bed_days" not in reablement
    assert (wards["lost_bed_days"], "delayed_days_home_based" in wards) == (4, False)
    facts = {s.id: city.facts(s.id) for s in CATALOGUE.services}
    system = system_figures(CATALOGUE.services, facts, Period(utc(WEEK[0]), utc(WEEK[1])), utc(now))
    # 2 delayed across the system, 1 of them outside beds; lost bed days are the ward's 4 only,
    # the 2 days at home apart.
    assert (system["delayed_count"], system["hidden_delays"], system["lost_bed_days"]) == (2, 1, 4)
    assert system["delayed_days_home_based"] == 2
    assert system["long_term_placements_started"] == 1


def test_the_weekly_report_shows_where_patients_went_from_hospital() -> None:
    city = City()
    city.publish(
        "admission", "lth-wards", "2026-05-01T10:00:00+01:00", admission_method="emergency"
    )
    city.publish(
        "transfer",
        "lth-wards",
        "2026-05-06T10:00:00+01:00",
        from_service="lth-wards",
        to_service="lcc-reablement",
    )
    facts = {s.id: city.facts(s.id) for s in CATALOGUE.services}
    report = weekly_report("2026-W19", list(CATALOGUE.services), facts, utc(WEEK[1]), {})
    wards = {line.figure: line.value for line in report.lines if line.service == "lth-wards"}
    # One left hospital, to reablement: home with new support, pathway 1: 100 % home, 100 % P1.
    assert (wards["directly_home_pct"], wards["pathway_p1_pct"], wards["pathway_p2_pct"]) == (
        100.0,
        100.0,
        0.0,
    )


def test_days_delayed_at_home_are_reported_apart_from_lost_bed_days() -> None:
    city = City()
    # Patient 0: on the ward, no criteria to reside from Monday 4 May 10:00.
    city.publish(
        "admission", "lth-wards", "2026-04-28T10:00:00+01:00", 0, admission_method="emergency"
    )
    no_criteria(city, "2026-05-04T10:00:00+01:00")
    # Patient 1: in reablement at home, ready to move on from Wednesday 6 May: a hidden delay.
    city.publish(
        "admission",
        "lcc-reablement",
        "2026-05-01T10:00:00+01:00",
        1,
        admission_method="start_of_care",
    )
    no_criteria(city, "2026-05-06T10:00:00+01:00", service="lcc-reablement", patient=1)
    facts = {s.id: city.facts(s.id) for s in CATALOGUE.services}

    report = weekly_report("2026-W19", list(CATALOGUE.services), facts, utc(WEEK[1]), {})

    lines = {(line.service, line.figure): line.value for line in report.lines}
    # The week's end: the ward's delay holds the midnights of 5 to 10 May, 6 lost bed days;
    # reablement's the midnights of 7 to 10 May, 4 days at home, which lose no bed.
    assert (lines["lth-wards", "lost_bed_days"], lines["lth-wards", "period_lost_bed_days"]) == (
        6,
        6,
    )
    assert ("lth-wards", "delayed_days_home_based") not in lines
    assert (
        lines["lcc-reablement", "delayed_days_home_based"],
        lines["lcc-reablement", "period_delayed_days_home_based"],
    ) == (4, 4)
    # They were shown as reablement's "lost bed days".
    assert ("lcc-reablement", "lost_bed_days") not in lines
    assert ("lcc-reablement", "period_lost_bed_days") not in lines
    system = report.system
    assert (system["lost_bed_days"], system["period_lost_bed_days"]) == (6, 6)
    assert (system["delayed_days_home_based"], system["period_delayed_days_home_based"]) == (4, 4)
