"""Figures that must agree with NHS England's definitions for the same patients, checked on
small scenarios computed by hand (docs/metrics.md cites each definition)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from flowsight.adapters.catalogue import load_catalogue
from flowsight.schemas.catalogue import Threshold
from flowsight.schemas.codes import ServiceKind
from flowsight.services.delays import period_lost_bed_days
from flowsight.services.facts import LONDON
from flowsight.services.flow_figures import percent
from flowsight.services.indicators import INDICATORS_BY_KIND, KNOWN_INDICATORS
from flowsight.services.kpis import Period
from flowsight.services.leaving import readmission_last_day
from flowsight.services.pressure import score_service
from flowsight.services.report import followed_up_by, week_figures
from flowsight.settings import DEFAULT_CATALOGUE
from tests.services.city import City, no_criteria, utc
from tests.services.pressure_services import service

WEEK = ("2026-05-04T00:00:00+01:00", "2026-05-11T00:00:00+01:00")
MAY = ("2026-05-01T00:00:00+01:00", "2026-06-01T00:00:00+01:00")
FIGURE = "readmitted_30d_pct"
SERVICES = load_catalogue(DEFAULT_CATALOGUE).services


def four_discharged(**fourth: str) -> City:
    """Four patients admitted to the wards on 1 May and discharged on 6 May: two home on P0,
    one home with support on P1, the fourth as `fourth` says."""
    city = City()
    for patient in range(4):
        city.publish(
            "admission",
            "lth-wards",
            "2026-05-01T10:00:00+01:00",
            patient,
            admission_method="emergency",
        )
    left = "2026-05-06T10:00:00+01:00"
    city.publish("discharge", "lth-wards", left, 0, destination="usual_residence", pathway="P0")
    city.publish("discharge", "lth-wards", left, 1, destination="usual_residence", pathway="P0")
    city.publish(
        "discharge", "lth-wards", left, 2, destination="usual_residence_with_support", pathway="P1"
    )
    city.publish("discharge", "lth-wards", left, 3, **fourth)
    return city


def test_complex_discharges_are_the_p1_to_p3_shares_of_those_who_left_alive() -> None:
    city = four_discharged(destination="died")

    wards = city.figures("lth-wards", *WEEK)

    # Three left alive, one on P1: 1 / 3. A death is on no pathway (it was 1 / 4 = 25 %).
    assert wards["hospital_discharges"] == 3
    assert wards["complex_discharge_pct"] == 33.3
    assert wards["complex_discharge_pct"] == sum(wards[f"pathway_p{n}_pct"] or 0 for n in (1, 2, 3))


def test_a_readmission_counts_on_days_0_to_29_by_date_and_the_dead_are_not_in_the_rate() -> None:
    city = City()
    for patient in range(3):
        city.publish(
            "admission",
            "lch-community-beds",
            "2026-04-20T10:00:00+01:00",
            patient,
            admission_method="transfer_in",
        )
    left = "2026-05-01T10:00:00+01:00"
    city.publish("discharge", "lch-community-beds", left, 0, destination="usual_residence")
    city.publish("discharge", "lch-community-beds", left, 1, destination="usual_residence")
    city.publish("discharge", "lch-community-beds", left, 2, destination="died")
    # Day 30 (31 May), an hour before the discharge's time of day: outside the 0-29 days.
    city.publish(
        "admission", "lth-wards", "2026-05-31T09:00:00+01:00", 0, admission_method="emergency"
    )
    # Day 29 (30 May), late in the evening: inside.
    city.publish(
        "admission", "lth-wards", "2026-05-30T23:30:00+01:00", 1, admission_method="emergency"
    )

    beds = city.figures("lch-community-beds", *MAY)

    # Of the two discharged alive, one readmitted within days 0-29: 50 %. (It was 2 / 3.)
    assert beds["readmitted_30d_pct"] == 50.0


def test_a_readmission_counts_against_the_last_discharge_before_it_only() -> None:
    # NHS Digital's indicator: an emergency readmission within 30 days of "the last, previous
    # discharge". Patient 0 left the community beds on 4 and 8 May and was admitted as an
    # emergency on 12 May: one readmission, of the 8 May discharge. It had counted against both,
    # reading 50 % of the week's four discharges where the indicator reads 25 %.
    city = City()
    beds = "lch-community-beds"
    city.publish("admission", beds, "2026-05-01T10:00:00+01:00", 0, admission_method="transfer_in")
    city.publish("discharge", beds, "2026-05-04T10:00:00+01:00", 0, destination="usual_residence")
    city.publish("admission", beds, "2026-05-05T10:00:00+01:00", 0, admission_method="transfer_in")
    city.publish("discharge", beds, "2026-05-08T10:00:00+01:00", 0, destination="usual_residence")
    city.publish(
        "admission", "lth-wards", "2026-05-12T10:00:00+01:00", 0, admission_method="emergency"
    )
    for patient in (1, 2):
        city.publish(
            "admission", beds, "2026-05-01T10:00:00+01:00", patient, admission_method="transfer_in"
        )
        city.publish(
            "discharge", beds, "2026-05-06T10:00:00+01:00", patient, destination="usual_residence"
        )

    week = city.figures(beds, "2026-05-04T00:00:00+01:00", "2026-05-11T00:00:00+01:00")

    assert (week["discharges"], week["readmitted_30d_pct"]) == (4, 25.0)


def test_a_care_home_resident_going_back_is_pathway_0_and_home() -> None:
    # The 2024 discharge guidance: pathway 0 is home with no new support, a return to the care
    # home one lives in included; pathway 3 is a *new* placement. Patient 0 lives at the care
    # home (placement open since January), patient 1 is placed there from the ward. It read
    # P3 100 %, complex 100 %, directly home 0 %, and the resident's return was an anomaly.
    city = City()
    city.publish(
        "admission", "lcc-care-homes", "2026-01-10T10:00:00+00:00", 0,
        admission_method="start_of_care", unit="Oak residential",
    )  # fmt: skip
    for patient in (0, 1):
        city.publish(
            "admission", "lth-wards", "2026-05-01T10:00:00+01:00", patient,
            admission_method="emergency",
        )  # fmt: skip
        city.publish(
            "transfer", "lth-wards", "2026-05-06T10:00:00+01:00", patient,
            from_service="lth-wards", to_service="lcc-care-homes",
        )  # fmt: skip
    # Patient 2 goes back to their care home by a discharge the ward records as pathway 0.
    city.publish(
        "admission", "lth-wards", "2026-05-01T10:00:00+01:00", 2, admission_method="emergency"
    )
    city.publish(
        "discharge", "lth-wards", "2026-05-06T10:00:00+01:00", 2,
        destination="care_home_residential", pathway="P0",
    )  # fmt: skip

    wards = city.figures("lth-wards", *WEEK)
    homes = city.figures("lcc-care-homes", *WEEK)

    assert (wards["pathway_p0_pct"], wards["pathway_p3_pct"]) == (66.7, 33.3)
    assert (wards["complex_discharge_pct"], wards["directly_home_pct"]) == (33.3, 66.7)
    assert (homes["placements_started"], homes["in_service"]) == (1, 2)


def test_thirty_day_readmissions_are_not_a_pressure_indicator() -> None:
    # Pressure is scored on the last 24 hours: their discharges' readmissions are still to come.
    assert "readmitted_30d_pct" not in KNOWN_INDICATORS


def test_the_two_hour_standard_is_of_2_hour_referrals_seen_within_2_hours() -> None:
    city = City()
    referred = "2026-05-05T09:00:00+01:00"
    for patient, priority in enumerate(("2-hour", "2h", "2 hours", "2-day")):
        city.publish(
            "referral",
            "lth-ed",
            referred,
            patient,
            to_service="lch-ucr",
            status="new",
            priority=priority,
        )
    # Seen at 1 h 59, at exactly 2 h, at 2 h 01; the 2-day referral the next morning.
    for patient, started in enumerate(
        (
            "2026-05-05T10:59:00+01:00",
            "2026-05-05T11:00:00+01:00",
            "2026-05-05T11:01:00+01:00",
            "2026-05-06T09:00:00+01:00",
        )
    ):
        city.publish("admission", "lch-ucr", started, patient, admission_method="start_of_care")

    ucr = city.figures("lch-ucr", *WEEK)

    # Three 2-hour referrals, two seen within 2 hours: 66.7 %, short of the 70 % standard.
    assert (ucr["ucr_2h_due"], ucr["ucr_2h_met_pct"]) == (3, 66.7)


def two_hour_referral(city: City, at: str, patient: int, status: str) -> None:
    """A 2-hour referral from the emergency department to urgent community response."""
    city.publish(
        "referral", "lth-ed", at, patient, to_service="lch-ucr", status=status, priority="2h"
    )


def test_a_2_hour_referral_not_seen_within_2_hours_is_a_breach_before_it_is_seen() -> None:
    # NHS England counts the 2-hour referrals received, each seen within 2 hours or not. Twelve
    # came at 08:00 and nobody was seen by 11:00: the rate read nothing (no referral "started")
    # and could not escalate until the first was seen late.
    city = City()
    for patient in range(12):
        two_hour_referral(city, "2026-05-05T08:00:00+01:00", patient, "accepted")
    two_hour_referral(city, "2026-05-05T10:30:00+01:00", 12, "new")
    two_hour_referral(city, "2026-05-05T08:00:00+01:00", 13, "declined")
    morning = ("2026-05-05T00:00:00+01:00", "2026-05-06T00:00:00+01:00")

    at_eleven = city.figures("lch-ucr", *morning, now="2026-05-05T11:00:00+01:00")

    # 12 due and missed; the 10:30 referral still has its 2 hours; the declined one was not due.
    assert (at_eleven["ucr_2h_due"], at_eleven["ucr_2h_met_pct"]) == (12, 0.0)


def test_a_2_hour_referral_withdrawn_unseen_after_its_2_hours_stays_a_breach() -> None:
    # Two referrals at 09:00: one seen at 09:30, one withdrawn at 13:00, never seen. At noon the
    # rate read 50 %; at 14:00 it read 100 %: the breach had left the count, and a pressure
    # indicator fell just as the response failed. One withdrawn within its 2 hours was not due.
    city = City()
    for patient in range(3):
        two_hour_referral(city, "2026-05-05T09:00:00+01:00", patient, "new")
    city.publish(
        "admission", "lch-ucr", "2026-05-05T09:30:00+01:00", 0, admission_method="start_of_care"
    )
    two_hour_referral(city, "2026-05-05T13:00:00+01:00", 1, "withdrawn")
    two_hour_referral(city, "2026-05-05T10:00:00+01:00", 2, "withdrawn")
    day = ("2026-05-05T00:00:00+01:00", "2026-05-06T00:00:00+01:00")

    at_noon = city.figures("lch-ucr", *day, now="2026-05-05T12:00:00+01:00")
    at_two = city.figures("lch-ucr", *day, now="2026-05-05T14:00:00+01:00")

    assert (at_noon["ucr_2h_due"], at_noon["ucr_2h_met_pct"]) == (2, 50.0)
    assert (at_two["ucr_2h_due"], at_two["ucr_2h_met_pct"]) == (2, 50.0)
    # At 10:30 the withdrawn one was still within its 2 hours: not due yet, whatever came later.
    early = city.figures("lch-ucr", *day, now="2026-05-05T10:30:00+01:00")
    assert (early["ucr_2h_due"], early["ucr_2h_met_pct"]) == (1, 100.0)
    # At 09:15 nobody had been seen and every 2 hours still ran: nothing due, whatever came later.
    earliest = city.figures("lch-ucr", *day, now="2026-05-05T09:15:00+01:00")
    assert (earliest["ucr_2h_due"], earliest["ucr_2h_met_pct"]) == (0, None)


def test_a_review_repeating_a_ready_date_from_before_the_criteria_were_met_counts_no_night_twice() -> (
    None
):
    # Ready 2 May, meets the criteria again 4 May; a review on 6 May repeats "ready 2 May". NHS
    # England's Discharge Ready Date is the start of the current period without criteria to
    # reside: this one began by 6 May, not on 2 May (when the nights were already counted).
    city = City()
    city.publish(
        "admission", "lth-wards", "2026-05-01T10:00:00+01:00", 0, admission_method="emergency"
    )
    no_criteria(city, "2026-05-02T10:00:00+01:00", ready="2026-05-02T00:00:00+01:00")
    city.publish(
        "assessment",
        "lth-wards",
        "2026-05-04T10:00:00+01:00",
        0,
        kind="ctr_review",
        status="completed",
        meets_criteria_to_reside=True,
    )
    no_criteria(city, "2026-05-06T10:00:00+01:00", ready="2026-05-02T00:00:00+01:00")

    seventh = city.figures(
        "lth-wards",
        "2026-05-07T00:00:00+01:00",
        "2026-05-08T00:00:00+01:00",
        "2026-05-07T12:00:00+01:00",
    )
    assert seventh["lost_bed_days"] == 1, "the running delay holds one midnight, 6 to 7 May"
    city.publish(
        "discharge",
        "lth-wards",
        "2026-05-08T10:00:00+01:00",
        0,
        destination="usual_residence",
        pathway="P0",
    )
    may = city.figures("lth-wards", *MAY)
    # Seven midnights in hospital: 2 and 3 May, then 6 and 7 May, without criteria to reside.
    assert (may["los_days_mean"], may["nctr_days_mean"], may["ctr_days_mean"]) == (7, 4, 3)
    assert (
        period_lost_bed_days(
            city.facts("lth-wards").delays, *(utc(moment) for moment in (*WEEK, WEEK[1]))
        )
        == 3
    ), "the midnights after 3, 6 and 7 May in the week of 4 May"


def test_pathway_shares_are_of_discharges_on_a_pathway_and_missing_ones_are_shown() -> None:
    # NHS England publishes every discharge under a pathway (acute discharge sitrep, Table 4:
    # the pathway columns add up to the patients discharged), so the shares add up to 100 %.
    city = four_discharged(destination="usual_residence")  # no pathway

    wards = city.figures("lth-wards", *WEEK)

    # Four left hospital, three on a pathway: P0 2 / 3, P1 1 / 3; complex 1 / 3. The one with
    # no pathway is 1 / 4 of the discharges. (It was in every denominator: P0 50 %, P1 25 %,
    # complex 25 %, and the shares added up to 75 %.)
    assert (wards["hospital_discharges"], wards["hospital_discharges_with_pathway"]) == (4, 3)
    shares = [wards[f"pathway_p{n}_pct"] for n in range(4)]
    assert shares == [66.7, 33.3, 0.0, 0.0]
    assert sum(s or 0 for s in shares) == 100.0
    assert wards["complex_discharge_pct"] == 33.3
    assert wards["pathway_not_recorded_pct"] == 25.0
    assert wards["directly_home_pct"] == 100.0  # destinations are all known: of all four


def test_complex_discharges_are_not_scored_on_too_few_discharges_with_a_pathway() -> None:
    assert INDICATORS_BY_KIND[ServiceKind.ACUTE_INPATIENT]["complex_discharge_pct"].sample == (
        "hospital_discharges_with_pathway"
    )


def test_no_further_action_is_home_without_new_support() -> None:
    city = City()
    for patient in range(4):
        city.publish(
            "admission",
            "lch-ucr",
            "2026-05-05T10:00:00+01:00",
            patient,
            admission_method="start_of_care",
        )
    gone = "2026-05-06T10:00:00+01:00"
    # No pathway, home without support: no further action, by its destination.
    city.publish("discharge", "lch-ucr", gone, 0, destination="usual_residence")
    # No pathway, home with support: further action (it counted as none).
    city.publish("discharge", "lch-ucr", gone, 1, destination="usual_residence_with_support")
    # Pathway 0, an existing package going on: no new support, no further action.
    city.publish(
        "discharge", "lch-ucr", gone, 2, destination="usual_residence_with_support", pathway="P0"
    )
    # Pathway 1: new support at home.
    city.publish("discharge", "lch-ucr", gone, 3, destination="usual_residence", pathway="P1")

    ucr = city.figures("lch-ucr", *WEEK)

    # 2 of 4 (it was 3 of 4, 75 %); 2 of the 4 have no pathway recorded.
    assert ucr["no_further_action_pct"] == 50.0
    assert ucr["pathway_not_recorded_pct"] == 50.0


def test_a_percentage_is_rounded_half_up_to_one_decimal_and_scored_as_shown() -> None:
    # Python's round took a half to the even digit: 1 of 16 was 6.2 %, 1 of 80 was 1.2 %.
    assert (percent(1, 16), percent(1, 80), percent(3, 8)) == (6.3, 1.3, 37.5)
    assert (percent(2, 3), percent(0, 7), percent(4, 0)) == (66.7, 0.0, None)
    # 1,420 of 1,449 beds: 97.9986 %, shown as 98.0 %, reaches a threshold of 98 as shown.
    assert percent(1420, 1449) == 98.0


def test_a_weeks_readmission_rate_is_provisional_until_its_last_days_window_ends() -> None:
    """The week of 4-10 May: a discharge on Sunday 10 May is readmitted on days 0 to 29, to
    8 June; the rate is final from 9 June 00:00 (London), and provisional every moment before."""
    week = Period(datetime.fromisoformat(WEEK[0]), datetime.fromisoformat(WEEK[1]))
    assert readmission_last_day("2026-05-10T23:59:00+01:00") == date(2026, 6, 8)
    final = followed_up_by(week)
    assert final == datetime(2026, 6, 9, tzinfo=LONDON)

    def provisional(now: datetime) -> bool:
        lines = week_figures("2026-W19", SERVICES, {}, now, {}).lines
        (line,) = [x for x in lines if (x.service, x.figure) == ("lch-community-beds", FIGURE)]
        return line.provisional

    assert provisional(final - timedelta(microseconds=1))
    assert not provisional(final)


def _started(city: City, service: str, patients: range, method: str = "start_of_care") -> None:
    for patient in patients:
        city.publish(
            "admission", service, "2026-05-04T10:00:00+01:00", patient, admission_method=method
        )


GONE = "2026-05-06T10:00:00+01:00"


def _transferred(city: City, service: str, patient: int, to: str) -> None:
    """The patient moved out of `service` into `to` at `GONE`, sent as a transfer."""
    city.publish("transfer", service, GONE, patient, from_service=service, to_service=to)


def test_a_person_who_leaves_a_community_bed_by_a_transfer_is_one_of_its_discharges() -> None:
    # The seed's "percentage discharged home" is of everyone who left the bed: whether the
    # sender records a move to a care home as a discharge there or as a transfer into the care
    # homes' service, it is the same person not going home.
    city = City()
    _started(city, "lch-community-beds", range(4), method="transfer_in")
    city.publish("discharge", "lch-community-beds", GONE, 0, destination="usual_residence")
    city.publish("discharge", "lch-community-beds", GONE, 1, destination="usual_residence")
    city.publish("discharge", "lch-community-beds", GONE, 2, destination="care_home_residential")
    _transferred(city, "lch-community-beds", 3, to="lcc-care-homes")

    beds = city.figures("lch-community-beds", *WEEK)

    # 2 of 4 went home (it was 2 of 3, 66.7 %: the transfer was in no denominator).
    assert beds["discharged_home_pct"] == 50.0
    assert beds["discharges"] == 4


def test_reablement_handing_over_to_long_term_home_care_is_not_an_independent_discharge() -> None:
    city = City()
    _started(city, "lcc-reablement", range(2))
    city.publish(
        "discharge", "lcc-reablement", GONE, 0, destination="usual_residence", independent=True
    )
    _transferred(city, "lcc-reablement", 1, to="lcc-home-care")

    reablement = city.figures("lcc-reablement", *WEEK)

    # 1 of 2 left independent (it was 1 of 1: 100 %).
    assert reablement["independent_pct"] == 50.0


def test_a_ucr_patient_taken_into_hospital_is_not_a_no_further_action_discharge() -> None:
    city = City()
    _started(city, "lch-ucr", range(2))
    city.publish("discharge", "lch-ucr", GONE, 0, destination="usual_residence", pathway="P0")
    _transferred(city, "lch-ucr", 1, to="lth-wards")

    ucr = city.figures("lch-ucr", *WEEK)

    # 1 of 2 needed nothing further (it was 1 of 1). The move into hospital carries no pathway
    # of its own: the pathway figure is of discharges recorded as such, so it stays 0 %.
    assert ucr["no_further_action_pct"] == 50.0
    assert ucr["pathway_not_recorded_pct"] == 0.0


def test_a_leavers_rate_is_scored_on_every_leaver_transfers_included() -> None:
    # 15 left the UCR service: 6 home needing nothing further, 9 taken into hospital. 40 % of 15
    # is a rate of enough cases to score; it went unscored while its sample counted only the
    # 6 discharge events (a rate of under 10 is not scored).
    city = City()
    _started(city, "lch-ucr", range(15))
    for patient in range(6):
        city.publish(
            "discharge", "lch-ucr", GONE, patient, destination="usual_residence", pathway="P0"
        )
    for patient in range(6, 15):
        _transferred(city, "lch-ucr", patient, to="lth-wards")
    ucr = service(
        "lch-ucr", "ucr", no_further_action_pct=Threshold(level2=60, level3=50, level4=40)
    )

    score = score_service(ucr, city.figures("lch-ucr", *WEEK))

    rate = {i.name: i for i in score.indicators}["no_further_action_pct"]
    assert (rate.value, rate.level, score.level) == (40.0, 4, 4)
