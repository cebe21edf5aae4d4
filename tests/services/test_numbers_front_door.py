"""The front door's figures when a source says things its own way: a contract transfer out of the
emergency department, and a departure that restates when the patient arrived. Figures computed
by hand from docs/metrics.md (four hours from arrival to departure, as ECDS measures it;
readmission: an unplanned acute admission on days 0 to 29 after a discharge)."""

from __future__ import annotations

from tests.services.city import City

WEEK = ("2026-05-04T00:00:00+01:00", "2026-05-11T00:00:00+01:00")


def test_a_transfer_from_the_department_to_a_ward_is_a_departure_admitted_and_an_admission() -> (
    None
):
    city = City()
    # Home from a community bed on 5 May, at the emergency department the next morning at 10:00,
    # moved to a ward at 16:30 by a contract transfer (SPEC 3: a move without leaving care).
    city.publish(
        "admission",
        "lch-community-beds",
        "2026-05-01T10:00:00+01:00",
        0,
        admission_method="transfer_in",
    )
    city.publish(
        "discharge",
        "lch-community-beds",
        "2026-05-05T10:00:00+01:00",
        0,
        destination="usual_residence",
        pathway="P0",
    )
    arrived = "2026-05-06T10:00:00+01:00"
    city.publish("attendance", "lth-ed", arrived, 0, arrived_at=arrived)
    city.publish(
        "transfer",
        "lth-ed",
        "2026-05-06T16:30:00+01:00",
        0,
        from_service="lth-ed",
        to_service="lth-wards",
    )

    ed = city.figures("lth-ed", *WEEK, now="2026-05-10T12:00:00+01:00")
    # Out of the department on 6 May: not waiting four days later.
    assert (ed["queue_length"], ed["in_department_over_4h"]) == (0, 0)
    # 6 h 30 from arrival to departure: a breach, and an admission from the department.
    assert (ed["departures"], ed["four_hour_breaches"], ed["admissions_from_ed"]) == (1, 1, 1)
    wards = city.facts("lth-wards")
    assert [(s.started_at, s.admission_method) for s in wards.stays] == [
        ("2026-05-06T15:30:00.000000Z", "emergency")
    ]
    # Back in an acute bed the day after leaving the community bed: a readmission.
    assert city.figures("lch-community-beds", *WEEK)["readmitted_30d_pct"] == 100.0
    assert [a.kind for s in city.states() for a in s.anomalies] == []


def test_a_departure_restating_the_arrival_is_timed_from_the_arrival_it_states() -> None:
    city = City()
    city.publish(
        "attendance",
        "lth-ed",
        "2026-05-05T10:00:00+01:00",
        0,
        arrived_at="2026-05-05T10:00:00+01:00",
    )
    # The departure at 13:50 says the patient arrived at 09:30 (as HL7 PV1-44 and a FHIR
    # Encounter's period.start restate it): 4 h 20 in the department.
    city.publish(
        "attendance",
        "lth-ed",
        "2026-05-05T13:50:00+01:00",
        0,
        arrived_at="2026-05-05T09:30:00+01:00",
        departed_at="2026-05-05T13:50:00+01:00",
        outcome="discharged",
    )

    [attendance] = city.facts("lth-ed").attendances
    assert attendance.arrived_at == "2026-05-05T08:30:00.000000Z"
    figures = city.figures("lth-ed", *WEEK)
    assert (figures["four_hour_breaches"], figures["four_hour_breach_pct"]) == (1, 100.0)


def test_a_departure_that_does_not_know_the_arrival_keeps_the_one_recorded() -> None:
    city = City()
    arrived = "2026-05-05T09:00:00+01:00"
    city.publish("attendance", "lth-ed", arrived, 0, arrived_at=arrived)
    # Admitted from the department at 14:00 by an A06 without PV1-44: the gateway gives the
    # departure as its own arrival.
    left = "2026-05-05T14:00:00+01:00"
    city.publish(
        "attendance", "lth-ed", left, 0, arrived_at=left, departed_at=left, outcome="admitted"
    )

    [attendance] = city.facts("lth-ed").attendances
    assert attendance.arrived_at == "2026-05-05T08:00:00.000000Z"
    ed = city.figures("lth-ed", *WEEK, now="2026-05-06T12:00:00+01:00")
    # Five hours in the department: a breach (it was a zero-minute stay, and none).
    assert (ed["departures"], ed["four_hour_breaches"]) == (1, 1)


def test_a_move_to_a_ward_sent_after_the_departments_departure_is_an_emergency_admission() -> None:
    city = City()
    # Home from a community bed on 5 May; at the department on 6 May at 10:00, its departure
    # (admitted) sent at 16:30, and then the move to a ward.
    city.publish(
        "admission", "lch-community-beds", "2026-05-01T10:00:00+01:00", 0,
        admission_method="transfer_in",
    )  # fmt: skip
    city.publish(
        "discharge", "lch-community-beds", "2026-05-05T10:00:00+01:00", 0,
        destination="usual_residence", pathway="P0",
    )  # fmt: skip
    arrived, left = "2026-05-06T10:00:00+01:00", "2026-05-06T16:30:00+01:00"
    city.publish("attendance", "lth-ed", arrived, 0, arrived_at=arrived)
    city.publish(
        "attendance", "lth-ed", left, 0, arrived_at=arrived, departed_at=left, outcome="admitted"
    )
    city.publish("transfer", "lth-ed", left, 0, from_service="lth-ed", to_service="lth-wards")

    wards = city.facts("lth-wards")
    assert [s.admission_method for s in wards.stays] == ["emergency"]
    # An emergency admission the day after leaving the community bed: a readmission (it was a
    # transfer in, no readmission, and an anomaly).
    assert city.figures("lch-community-beds", *WEEK)["readmitted_30d_pct"] == 100.0
    assert [a.kind for s in city.states() for a in s.anomalies] == []


def test_twelve_hours_from_arrival_counts_departures_and_those_still_in_the_department() -> None:
    # NHS England publishes the patients who spent more than 12 hours in the department from
    # arrival (ECDS). Three arrive at 08:00: one leaves at 19:59, one at 20:01, one is still
    # there at 21:00. flowsight had four-hour figures only.
    city = City()
    arrived = "2026-05-05T08:00:00+01:00"
    for patient in range(3):
        city.publish("attendance", "lth-ed", arrived, patient, arrived_at=arrived)
    for patient, left in ((0, "2026-05-05T19:59:00+01:00"), (1, "2026-05-05T20:01:00+01:00")):
        city.publish(
            "attendance", "lth-ed", left, patient,
            arrived_at=arrived, departed_at=left, outcome="discharged",
        )  # fmt: skip

    ed = city.figures("lth-ed", *WEEK, now="2026-05-05T21:00:00+01:00")

    assert (ed["departures"], ed["twelve_hours_from_arrival"]) == (2, 1)
    assert ed["twelve_hours_from_arrival_pct"] == 50.0
    assert (ed["in_department_over_4h"], ed["in_department_over_12h"]) == (1, 1)
