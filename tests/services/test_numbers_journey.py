"""Numbers a bed manager signs off: ward moves, deaths, readmissions and corrected DRDs.

Each scenario publishes the events a source would send, replays them as the worker does, and
checks the figure a bed manager reads, with the arithmetic worked by hand.
"""

from __future__ import annotations

from flowsight.services.kpis import delay_rows, is_running
from tests.services.city import City, no_criteria, utc

WEEK = ("2026-05-04T00:00:00+01:00", "2026-05-11T00:00:00+01:00")


def test_a_ward_move_inside_the_wards_keeps_the_stay_and_the_delay() -> None:
    city = City()
    city.publish(
        "admission", "lth-wards", "2026-05-01T10:00:00+01:00", admission_method="emergency"
    )
    no_criteria(city, "2026-05-04T09:00:00+01:00")
    # HL7 A02: moved from ward J16 to J32, still in the general and acute wards.
    city.publish(
        "transfer",
        "lth-wards",
        "2026-05-05T15:00:00+01:00",
        from_service="lth-wards",
        to_service="lth-wards",
        to_unit="J32",
    )
    wards = city.figures("lth-wards", *WEEK, now="2026-05-07T12:00:00+01:00")
    # Still delayed since 4 May 09:00: midnights of the 5th, 6th and 7th = 3 lost bed days.
    assert (wards["delayed_count"], wards["lost_bed_days"]) == (1, 3)
    # One stay, not two: in the wards, nobody has left, and nobody has started this week.
    assert (wards["in_service"], wards["discharges"], wards["starts"]) == (1, 0, 0)
    (state,) = city.states()
    assert len(state.stays) == 1 and len(state.delays) == 1


def test_a_death_closes_the_patients_referrals_and_assessments() -> None:
    city = City()
    city.publish(
        "admission", "lth-wards", "2026-05-01T10:00:00+01:00", admission_method="emergency"
    )
    city.publish(
        "referral",
        "lth-wards",
        "2026-05-04T10:00:00+01:00",
        to_service="lcc-reablement",
        pathway="P1",
        status="new",
    )
    city.publish(
        "assessment", "lth-toc-hub", "2026-05-04T11:00:00+01:00", kind="care_act", status="open"
    )
    city.publish("discharge", "lth-wards", "2026-05-05T03:00:00+01:00", destination="died")
    later = "2026-05-08T12:00:00+01:00"
    # Before the death: one waiting for reablement, one open assessment at the hub.
    assert (
        city.figures("lcc-reablement", *WEEK, now="2026-05-04T12:00:00+01:00")["queue_length"] == 1
    )
    # After it: nobody waits for reablement and the hub has no open assessment.
    assert city.figures("lcc-reablement", *WEEK, now=later)["queue_length"] == 0
    hub = city.figures("lth-toc-hub", *WEEK, now=later)
    assert (hub["open_assessments"], hub["queue_length"]) == (0, 0)
    (state,) = city.states()
    assert state.queues == {}
    assert [(r.status, r.decided_at) for r in state.referrals] == [
        ("withdrawn", "2026-05-05T02:00:00.000000Z")
    ]


def _home_from_a_community_bed(city: City, discharged_at: str) -> None:
    city.publish(
        "admission",
        "lch-community-beds",
        "2026-05-01T10:00:00+01:00",
        admission_method="transfer_in",
    )
    city.publish("discharge", "lch-community-beds", discharged_at, destination="usual_residence")


def test_a_readmission_the_same_minute_as_the_discharge_is_a_readmission() -> None:
    city = City()
    _home_from_a_community_bed(city, "2026-05-05T14:30:00+01:00")
    city.publish(
        "admission", "lth-wards", "2026-05-05T14:30:00+01:00", admission_method="emergency"
    )
    beds = city.figures("lch-community-beds", *WEEK)
    # 1 discharged, readmitted at the same minute: 1 / 1 = 100 %.
    assert beds["readmitted_30d_pct"] == 100.0


def test_a_readmission_by_transfer_from_reablement_is_a_readmission() -> None:
    city = City()
    _home_from_a_community_bed(city, "2026-05-04T11:00:00+01:00")
    city.publish(
        "admission", "lcc-reablement", "2026-05-04T15:00:00+01:00", admission_method="start_of_care"
    )
    # Ten days later reablement sends the person into hospital: a transfer, not an admission.
    city.publish(
        "transfer",
        "lcc-reablement",
        "2026-05-14T09:00:00+01:00",
        from_service="lcc-reablement",
        to_service="lth-wards",
    )
    beds = city.figures("lch-community-beds", *WEEK)
    # The bed's one discharge was followed, within 30 days, by an unplanned acute stay: 100 %.
    assert beds["readmitted_30d_pct"] == 100.0


def test_a_transfer_to_a_community_bed_counts_as_a_complex_discharge() -> None:
    city = City()
    for patient in (0, 1):
        city.publish(
            "admission",
            "lth-wards",
            "2026-05-01T10:00:00+01:00",
            patient,
            admission_method="emergency",
        )
    city.publish(
        "discharge",
        "lth-wards",
        "2026-05-05T10:00:00+01:00",
        0,
        destination="usual_residence",
        pathway="P0",
    )
    city.publish(
        "transfer",
        "lth-wards",
        "2026-05-06T10:00:00+01:00",
        1,
        from_service="lth-wards",
        to_service="lch-community-beds",
    )
    wards = city.figures("lth-wards", *WEEK)
    # Two left hospital: one home on P0, one to a pathway 2 bed. Complex: 1 / 2 = 50 %.
    assert wards["complex_discharge_pct"] == 50.0
    # Directly home 1 / 2 = 50 %; P0 and P2 half each.
    assert (wards["directly_home_pct"], wards["pathway_p0_pct"], wards["pathway_p2_pct"]) == (
        50.0,
        50.0,
        50.0,
    )


def test_a_corrected_discharge_ready_date_moves_the_running_delay() -> None:
    city = City()
    city.publish(
        "admission", "lth-wards", "2026-05-01T10:00:00+01:00", admission_method="emergency"
    )
    no_criteria(city, "2026-05-06T09:00:00+01:00", ready="2026-05-06T09:00:00+01:00")
    # The ward corrects it: the patient was ready on Monday the 4th.
    no_criteria(city, "2026-05-06T16:00:00+01:00", ready="2026-05-04T08:00:00+01:00")
    wards = city.figures("lth-wards", *WEEK, now="2026-05-07T12:00:00+01:00")
    # From 4 May: midnights of the 5th, 6th, 7th = 3 lost bed days (not 1 from the 6th).
    assert (wards["delayed_count"], wards["lost_bed_days"]) == (1, 3)


def test_a_future_discharge_ready_date_is_not_a_delay_in_counts_or_lists() -> None:
    city = City()
    city.publish(
        "admission", "lth-wards", "2026-05-01T10:00:00+01:00", admission_method="emergency"
    )
    # Reviewed on the 6th: expected ready on the 9th.
    no_criteria(city, "2026-05-06T10:00:00+01:00", ready="2026-05-09T10:00:00+01:00")
    now = "2026-05-07T12:00:00+01:00"
    assert city.figures("lth-wards", *WEEK, now=now)["delayed_count"] == 0
    (state,) = city.states()
    (delay,) = state.delays
    # The one rule for counts and lists: not running before its DRD.
    assert not is_running(delay, "2026-05-07T11:00:00.000000Z")
    assert delay_rows(state.delays, utc(now)) == []
    # On the 10th it is a delay of 1 midnight.
    (row,) = delay_rows(state.delays, utc("2026-05-10T12:00:00+01:00"))
    assert (row.days, row.publication_band) == (1, "1")


def _ready_on_the_20th_then_met(city: City, met: str, by: str) -> None:
    """Admitted on 1 May; reviewed on the 5th as expected ready on the 20th; then, at `met`,
    long before the 20th, `by` a "discharge" or a "review" finding the criteria met."""
    city.publish(
        "admission", "lth-wards", "2026-05-01T10:00:00+01:00", admission_method="emergency"
    )
    no_criteria(city, "2026-05-05T09:00:00+01:00", ready="2026-05-20T00:00:00+01:00")
    if by == "discharge":
        city.publish("discharge", "lth-wards", met, destination="usual_residence", pathway="P0")
    else:
        city.publish(
            "assessment",
            "lth-wards",
            met,
            kind="ctr_review",
            status="completed",
            meets_criteria_to_reside=True,
        )


def test_a_delay_ended_before_its_ready_date_hides_no_later_delay() -> None:
    # The same stay: met the criteria on the 6th (before the 20th), ready again on the 8th.
    city = City()
    _ready_on_the_20th_then_met(city, "2026-05-06T09:00:00+01:00", "review")
    no_criteria(city, "2026-05-08T09:00:00+01:00", ready="2026-05-08T00:00:00+01:00")
    # Midnights of the 9th and 10th, then to the 15th: 2, then 7 lost bed days (the delay
    # ended before the 20th never ran, so it neither counts nor makes the 8th look stale).
    on_the_10th = city.figures("lth-wards", *WEEK, now="2026-05-10T12:00:00+01:00")
    assert (on_the_10th["delayed_count"], on_the_10th["lost_bed_days"]) == (1, 2)
    on_the_15th = city.figures("lth-wards", *WEEK, now="2026-05-15T12:00:00+01:00")
    assert (on_the_15th["delayed_count"], on_the_15th["lost_bed_days"]) == (1, 7)
    (state,) = city.states()
    assert [(d.started_at, d.ended_at) for d in state.delays] == [
        ("2026-05-07T23:00:00.000000Z", None)
    ]


def test_a_stay_left_before_its_ready_date_hides_no_delay_of_the_next_stay() -> None:
    city = City()
    _ready_on_the_20th_then_met(city, "2026-05-06T10:00:00+01:00", "discharge")
    city.publish(
        "admission", "lth-wards", "2026-05-07T10:00:00+01:00", admission_method="emergency"
    )
    no_criteria(city, "2026-05-08T09:00:00+01:00", ready="2026-05-08T00:00:00+01:00")
    wards = city.figures("lth-wards", *WEEK, now="2026-05-15T12:00:00+01:00")
    # Readmitted on the 7th, ready on the 8th: the midnights of the 9th to the 15th, 7.
    assert (wards["delayed_count"], wards["lost_bed_days"]) == (1, 7)


def test_a_discharge_and_a_new_stay_in_the_same_service_and_minute_are_two_stays() -> None:
    # A PAS closing one spell and opening the next in the same minute (an A03 and an A01),
    # whichever arrives first.
    for discharge_first in (True, False):
        city = City()
        city.publish(
            "admission", "lth-wards", "2026-05-01T10:00:00+01:00", admission_method="emergency"
        )
        same_minute = "2026-05-05T14:00:00+01:00"
        events = [
            ("discharge", {"destination": "usual_residence", "pathway": "P0"}),
            ("admission", {"admission_method": "emergency"}),
        ]
        for kind, fields in events if discharge_first else events[::-1]:
            city.publish(kind, "lth-wards", same_minute, **fields)
        wards = city.figures("lth-wards", *WEEK, now="2026-05-06T12:00:00+01:00")
        assert (wards["in_service"], wards["starts"], wards["discharges"]) == (1, 1, 1)
        (state,) = city.states()
        assert state.anomalies == []
        assert [s.ended_at for s in state.stays] == ["2026-05-05T13:00:00.000000Z", None]


def test_reablement_readmissions() -> None:
    city = City()
    for patient in (0, 1):
        city.publish(
            "admission",
            "lcc-reablement",
            "2026-04-20T10:00:00+01:00",
            patient,
            admission_method="start_of_care",
        )
        city.publish(
            "discharge",
            "lcc-reablement",
            "2026-05-05T10:00:00+01:00",
            patient,
            destination="usual_residence",
            independent=True,
        )
    city.publish(
        "admission", "lth-wards", "2026-05-20T10:00:00+01:00", 1, admission_method="emergency"
    )
    reablement = city.figures("lcc-reablement", *WEEK)
    # Two discharged; one back in hospital as an emergency 15 days later: 1 / 2 = 50 %.
    assert reablement["readmitted_30d_pct"] == 50.0
