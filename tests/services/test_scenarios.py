"""Written scenarios with the expected figures worked out by hand, through the whole pure core:
the contract JSON a source publishes → validation and pseudonymisation → journey → facts → KPIs."""

from __future__ import annotations

import pytest

from flowsight.services.facts import delay_band, midnights
from flowsight.services.kpis import delay_rows
from tests.services.city import City, utc


def test_a_p2_delay_across_the_clock_change_then_a_community_bed_then_home() -> None:
    city = City()
    city.publish(
        "admission", "lth-wards", "2026-03-24T10:00:00+00:00", admission_method="emergency"
    )
    # Medically fit on Friday 27 March at 14:00 GMT; waits for a pathway 2 bed.
    city.publish(
        "assessment",
        "lth-wards",
        "2026-03-27T15:00:00+00:00",
        kind="ctr_review",
        status="completed",
        meets_criteria_to_reside=False,
        discharge_ready_at="2026-03-27T14:00:00+00:00",
        delay_reason="p2_awaiting_bed",
        pathway="P2",
    )
    city.publish(
        "referral",
        "lth-wards",
        "2026-03-27T15:05:00+00:00",
        to_service="lch-community-beds",
        pathway="P2",
        status="new",
    )
    # Clocks go forward at 01:00 GMT on Sunday 29 March. Transferred Monday 11:00 BST.
    city.publish(
        "transfer",
        "lth-wards",
        "2026-03-30T11:00:00+01:00",
        from_service="lth-wards",
        to_service="lch-community-beds",
    )
    city.publish(
        "discharge",
        "lch-community-beds",
        "2026-04-20T12:00:00+01:00",
        destination="usual_residence",
        pathway="P0",
    )

    # While waiting, Sunday noon: midnights of Saturday 28th and Sunday 29th have passed.
    waiting = city.figures("lth-wards", "2026-03-29T00:00:00+00:00", "2026-03-29T12:00:00+00:00")
    assert (waiting["delayed_count"], waiting["lost_bed_days"]) == (1, 2)
    queue = city.figures(
        "lch-community-beds", "2026-03-29T00:00:00+00:00", "2026-03-29T12:00:00+00:00"
    )
    assert queue["queue_length"] == 1
    # 27 Mar 15:05 GMT to 29 Mar 12:00 UTC = 44 h 55 min.
    assert queue["longest_wait_hours"] == pytest.approx(44.92, abs=0.01)

    # The delay: midnights of the 28th, 29th (the short night) and 30th: 3 lost bed days.
    (state,) = city.states()
    (delay,) = state.delays
    assert midnights(delay.started_at, delay.ended_at or "") == 3
    assert (delay.reason, delay.pathway, delay_band(3)) == ("p2_awaiting_bed", "P2", "under 7")

    # Ward stay: 24 Mar → 30 Mar is 6 midnights, 3 of them without criteria to reside.
    ward = city.figures("lth-wards", "2026-03-30T00:00:00+01:00", "2026-04-06T00:00:00+01:00")
    assert (ward["los_days_mean"], ward["nctr_days_mean"], ward["ctr_days_mean"]) == (6, 3, 3)
    assert ward["delayed_count"] == 0 and ward["lost_bed_days"] == 0
    # A transfer to a pathway 2 bed leaves hospital: a complex discharge (1 of 1).
    assert ward["complex_discharge_pct"] == 100.0

    # Community bed: 30 Mar → 20 Apr is 21 midnights; home, so 100 % home; queue empty.
    beds = city.figures(
        "lch-community-beds", "2026-04-01T00:00:00+01:00", "2026-05-01T00:00:00+01:00"
    )
    assert (beds["los_days_mean"], beds["discharged_home_pct"], beds["queue_length"]) == (
        21,
        100.0,
        0,
    )


def test_a_declined_ucr_referral_and_an_accepted_one_with_no_further_action() -> None:
    city = City()
    city.publish(
        "referral",
        "lch-ucr",
        "2026-05-01T09:00:00+00:00",
        patient=0,
        to_service="lch-ucr",
        status="new",
    )
    city.publish(
        "referral",
        "lch-ucr",
        "2026-05-01T10:30:00+00:00",
        patient=0,
        to_service="lch-ucr",
        status="declined",
    )
    city.publish(
        "referral",
        "lch-ucr",
        "2026-05-01T09:30:00+00:00",
        patient=1,
        to_service="lch-ucr",
        status="accepted",
    )
    city.publish(
        "admission",
        "lch-ucr",
        "2026-05-01T10:00:00+00:00",
        patient=1,
        admission_method="start_of_care",
    )
    city.publish(
        "discharge",
        "lch-ucr",
        "2026-05-02T16:00:00+00:00",
        patient=1,
        destination="usual_residence",
        pathway="P0",
    )
    figures = city.figures("lch-ucr", "2026-05-01T00:00:00+00:00", "2026-05-03T00:00:00+00:00")
    assert figures["referrals"] == 2
    assert figures["referrals_accepted_pct"] == 50.0  # one accepted, one declined
    assert figures["no_further_action_pct"] == 100.0  # the one discharged went home, P0
    assert figures["queue_length"] == 0
    # At 09:45 both were waiting: patient 0 since 09:00 (new), patient 1 since 09:30 (accepted).
    early = city.figures("lch-ucr", "2026-05-01T00:00:00+00:00", "2026-05-01T09:45:00+00:00")
    assert (early["queue_length"], early["longest_wait_hours"]) == (2, 0.75)


def test_a_reablement_episode_from_14_to_2_care_hours_ending_independent() -> None:
    city = City()
    city.publish(
        "referral",
        "lth-wards",
        "2026-06-01T10:00:00+00:00",
        to_service="lcc-reablement",
        pathway="P1",
        status="new",
    )
    city.publish(
        "admission",
        "lcc-reablement",
        "2026-06-03T09:00:00+00:00",
        admission_method="start_of_care",
        care_hours_per_week=14,
    )
    city.publish(
        "discharge",
        "lcc-reablement",
        "2026-06-24T09:00:00+00:00",
        destination="usual_residence",
        care_hours_per_week=2,
        independent=True,
    )
    june = city.figures("lcc-reablement", "2026-06-01T00:00:00+00:00", "2026-07-01T00:00:00+00:00")
    assert june["starts"] == 1
    assert june["care_hours_change_mean"] == -12.0  # 2 - 14 hours a week
    assert june["independent_pct"] == 100.0
    assert june["los_days_mean"] == 21  # 3 June → 24 June
    waiting = city.figures(
        "lcc-reablement", "2026-06-01T00:00:00+00:00", "2026-06-02T10:00:00+00:00"
    )
    assert (waiting["queue_length"], waiting["longest_wait_hours"]) == (1, 24.0)


def test_a_cancelled_admission_leaves_no_stay_and_a_later_correction_reconciles() -> None:
    city = City()
    admitted = city.publish(
        "admission", "lth-wards", "2026-07-01T10:00:00+00:00", admission_method="emergency"
    )
    city.publish(
        "cancellation", "lth-wards", "2026-07-01T10:20:00+00:00", cancels_event_id=admitted
    )
    city.publish(
        "discharge", "lth-wards", "2026-07-03T10:00:00+00:00", destination="usual_residence"
    )
    july = city.figures("lth-wards", "2026-07-01T00:00:00+00:00", "2026-07-05T00:00:00+00:00")
    assert (july["starts"], july["discharges"], july["in_service"]) == (0, 0, 0)
    (state,) = city.states()
    assert [a.kind for a in state.anomalies] == ["discharge_without_admission"]

    # The ward re-enters the admission, correctly, late: the discharge now fits, no anomaly.
    city.publish(
        "admission", "lth-wards", "2026-07-01T10:05:00+00:00", admission_method="emergency"
    )
    july = city.figures("lth-wards", "2026-07-01T00:00:00+00:00", "2026-07-05T00:00:00+00:00")
    assert (july["starts"], july["discharges"], july["los_days_mean"]) == (1, 1, 2)
    (state,) = city.states()
    assert state.anomalies == []


def test_readmissions_within_30_days_of_leaving_a_community_bed() -> None:
    city = City()
    for patient, readmitted in ((0, "2026-08-25T03:00:00+00:00"), (1, "2026-09-11T13:00:00+00:00")):
        city.publish(
            "admission",
            "lch-community-beds",
            "2026-08-01T12:00:00+00:00",
            patient=patient,
            admission_method="transfer_in",
        )
        city.publish(
            "discharge",
            "lch-community-beds",
            "2026-08-10T12:00:00+00:00",
            patient=patient,
            destination="usual_residence",
        )
        city.publish(
            "admission", "lth-wards", readmitted, patient=patient, admission_method="emergency"
        )
    # Patient 0 is back 14 days 15 hours later (inside 30 days); patient 1 after 32 days.
    august = city.figures(
        "lch-community-beds",
        "2026-08-01T00:00:00+00:00",
        "2026-09-01T00:00:00+00:00",
        now="2026-09-30T00:00:00+00:00",
    )
    assert august["discharges"] == 2
    assert august["readmitted_30d_pct"] == 50.0
    assert august["discharged_home_pct"] == 100.0


def test_four_hour_breaches_count_departures_more_than_four_hours_after_arrival() -> None:
    city = City()
    stays = (
        ("08:00", "10:00", "discharged"),
        ("08:00", "12:00", "admitted"),
        ("08:00", "12:01", "admitted"),
    )
    for patient, (arrived, departed, outcome) in enumerate(stays):
        city.publish(
            "attendance",
            "lth-ed",
            f"2026-09-01T{departed}:00+00:00",
            patient=patient,
            arrived_at=f"2026-09-01T{arrived}:00+00:00",
            departed_at=f"2026-09-01T{departed}:00+00:00",
            outcome=outcome,
        )
    city.publish(
        "attendance",
        "lth-ed",
        "2026-09-01T09:00:00+00:00",
        patient=3,
        arrived_at="2026-09-01T09:00:00+00:00",
    )
    day = city.figures("lth-ed", "2026-09-01T00:00:00+00:00", "2026-09-01T14:00:00+00:00")
    assert day["attendances"] == 4
    assert day["four_hour_breaches"] == 1  # exactly four hours is not a breach
    assert day["four_hour_breach_pct"] == 33.3
    assert day["admissions_from_ed"] == 2
    # Patient 3 is still in the department, 5 hours after arriving.
    assert (day["queue_length"], day["longest_wait_hours"], day["in_department_over_4h"]) == (
        1,
        5.0,
        1,
    )


def test_delays_are_grouped_with_their_bands() -> None:
    city = City()
    for patient, ready in enumerate(("2026-10-01T12:00:00+01:00", "2026-10-20T12:00:00+01:00")):
        city.publish(
            "admission",
            "lth-wards",
            "2026-09-28T10:00:00+01:00",
            patient=patient,
            admission_method="emergency",
        )
        city.publish(
            "assessment",
            "lth-wards",
            ready,
            patient=patient,
            kind="ctr_review",
            status="completed",
            meets_criteria_to_reside=False,
            delay_reason="p3_awaiting_care_home",
            pathway="P3",
        )
    # Clocks go back on 25 October 2026; on 29 October noon: 28 and 9 midnights.
    rows = delay_rows(
        (d for s in city.states() for d in s.delays), utc("2026-10-29T12:00:00+00:00")
    )
    assert sorted((row.days, row.band) for row in rows) == [(9, "7 to 13"), (28, "21+")]
