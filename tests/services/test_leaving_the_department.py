"""An emergency department's attendance ends when the patient leaves, however the source says it.

Real HL7 feeds (Epic's, as UCLH's public test messages show) give PV1-2 the visit's class now,
not where the patient was: once admitted it is I, so the move out of the department reads as a
move between wards and an emergency patient's discharge as a discharge from a ward. Before, the
attendance stayed open: the patient on the department's board and past four hours for ever. And
an A01 sent while the patient still waits in the department restates the attendance with the
admission's time as its arrival: a five-hour wait became a two-hour one, its breach gone."""

from __future__ import annotations

from typing import Any

from flowsight.adapters.catalogue import load_catalogue
from flowsight.services.facts import Attendance
from flowsight.services.journey import JourneyState, ServiceMap, replay
from flowsight.services.recorded import Journey
from flowsight.settings import DEFAULT_CATALOGUE
from tests.services.test_journey import LATENESS, PSEUDONYM, at, event, state_after

SERVICES = ServiceMap.of(load_catalogue(DEFAULT_CATALOGUE))

EPISODE = "VISIT-77"


def in_episode(event_type: str, event_id: str, hours: float, service: str, **extra: Any) -> Any:
    return event(event_type, event_id, hours, service, **extra) | {"episode_id": EPISODE}


def arrival(hours: float = 0, event_id: str = "att-1") -> Any:
    return in_episode("attendance", event_id, hours, "lth-ed", arrived_at=at(hours))


def the_attendance(*events: Any) -> Attendance:
    (attendance,) = state_after(*events).attendances
    return attendance


def test_a_move_between_wards_of_the_attendances_episode_takes_the_patient_out() -> None:
    moved = in_episode(
        "transfer", "move-1", 5, "lth-wards", from_service="lth-wards", to_service="lth-wards"
    )
    state = state_after(arrival(), moved)

    (attendance,) = state.attendances
    assert (attendance.departed_at, attendance.outcome) == (at(5), "admitted")
    (stay,) = state.stays
    assert (stay.service, stay.started_at, stay.admission_method) == (
        "lth-wards",
        at(5),
        "emergency",
    )
    assert state.anomalies == []


def test_a_discharge_of_the_attendances_episode_ends_it() -> None:
    home = in_episode("discharge", "dis-1", 3, "lth-wards", destination="usual_residence")
    away = in_episode("discharge", "dis-1", 3, "lth-wards", destination="other_hospital")

    assert (
        the_attendance(arrival(), home).departed_at,
        the_attendance(arrival(), home).outcome,
    ) == (
        at(3),
        "discharged",
    )
    assert the_attendance(arrival(), away).outcome == "transferred"
    assert state_after(arrival(), home).anomalies == []


def test_an_admission_of_the_attendances_episode_leaves_it_open() -> None:
    # Admitted on the PAS while still waiting in the department for a bed: the four hours run
    # on until the departure says the patient left (the twelve-hour trolley wait is this).
    admitted = in_episode("admission", "adm-1", 4, "lth-wards", admission_method="emergency")
    departed = in_episode(
        "attendance", "dep-1", 9, "lth-ed", arrived_at=at(0), departed_at=at(9), outcome="admitted"
    )

    assert the_attendance(arrival(), admitted).departed_at is None
    assert the_attendance(arrival(), admitted, departed).departed_at == at(9)


def test_events_of_another_episode_or_from_before_the_arrival_leave_it_open() -> None:
    other = event(
        "discharge", "dis-9", 4, "lth-wards", destination="usual_residence"
    )  # EP-lth-wards
    earlier = in_episode("discharge", "dis-0", -2, "lth-wards", destination="usual_residence")

    assert the_attendance(arrival(), other).departed_at is None
    assert the_attendance(earlier, arrival()).departed_at is None


def test_the_arrival_is_the_first_one_said() -> None:
    restated = in_episode("attendance", "att-2", 2, "lth-ed", arrived_at=at(2))  # an A01's PV1-44
    departed = in_episode(
        "attendance",
        "dep-1",
        5,
        "lth-ed",
        arrived_at=at(2),
        departed_at=at(5),
        outcome="admitted",
    )

    attendance = the_attendance(arrival(), restated, departed)

    assert (attendance.arrived_at, attendance.departed_at) == (at(0), at(5))


def in_the_city(*events: Any) -> JourneyState:
    """The journey as the worker folds it, with the catalogue's services and organisations."""
    journey = Journey()
    for each in events:
        journey.record(each, LATENESS)
    return replay(PSEUDONYM, journey.events, SERVICES)


def test_admitted_while_waiting_a_move_within_the_service_may_be_inside_the_department() -> None:
    # Admitted on the PAS at 2 h while still in the department (an A01 of class I), then a move
    # between wards at 5 h: a move between bays of the department reads so too, where only the
    # class placed the department. It ends nothing (ending it there could hide a breach); the
    # discharge ends it at the latest.
    admitted = in_episode("admission", "adm-1", 2, "lth-wards", admission_method="emergency")
    moved = in_episode(
        "transfer", "move-1", 5, "lth-wards", from_service="lth-wards", to_service="lth-wards"
    )
    home = in_episode("discharge", "dis-1", 48, "lth-wards", destination="usual_residence")

    assert the_attendance(arrival(), admitted, moved).departed_at is None
    assert the_attendance(arrival(), admitted, moved, home).departed_at == at(48)


def test_a_discharge_after_an_admission_of_the_episode_ends_the_attendance_at_the_latest() -> None:
    admitted = in_episode("admission", "adm-1", 2, "lth-wards", admission_method="emergency")
    home = in_episode("discharge", "dis-1", 48, "lth-wards", destination="usual_residence")

    state = state_after(arrival(), admitted, home)

    (attendance,) = state.attendances
    assert (attendance.departed_at, attendance.outcome) == (at(48), "admitted")
    assert [stay.ended_at for stay in state.stays] == [at(48)]


def test_another_organisations_episode_of_the_same_id_ends_nothing() -> None:
    # Episode ids are a source's own: a community trust's discharge of its episode "VISIT-77"
    # had ended the acute trust's attendance of the same id.
    community = in_episode(
        "discharge", "dis-1", 3, "lch-community-beds", destination="usual_residence"
    )

    state = in_the_city(arrival(), community)

    assert state.attendances[0].departed_at is None
    assert [a.kind for a in state.anomalies] == ["discharge_without_admission"]


def placed(hours: float, unit: str) -> Any:
    return event(
        "admission", "home-1", hours, "lcc-care-homes", source="LCC/mosaic",
        admission_method="start_of_care", unit=unit,
    )  # fmt: skip


def through_a_ward(placed_unit: str, to_unit: str) -> JourneyState:
    """A care-home resident (placed at `placed_unit`) admitted to a ward, then moved from it
    into the care homes' service at `to_unit`."""
    ward = in_episode("admission", "adm-1", 100, "lth-wards", admission_method="emergency")
    moved = in_episode(
        "transfer", "move-1", 200, "lth-wards",
        from_service="lth-wards", to_service="lcc-care-homes", to_unit=to_unit,
    )  # fmt: skip
    return in_the_city(placed(0, placed_unit), ward, moved)


def test_a_resident_whose_kind_of_care_was_not_known_goes_back_to_the_placement() -> None:
    state = through_a_ward("Oak Lodge", "Oak Lodge Nursing Home")

    acute = next(stay for stay in state.stays if stay.service == "lth-wards")
    assert acute.pathway == "P0"
    assert [h.ended_at for h in state.stays if h.service == "lcc-care-homes"] == [None]


def test_a_resident_moved_to_a_nursing_home_is_a_new_placement_not_a_return() -> None:
    state = through_a_ward("Oak residential", "Elm Nursing Home (nursing)")

    acute = next(stay for stay in state.stays if stay.service == "lth-wards")
    assert (acute.destination, acute.pathway) == ("care_home_nursing", "P3")
    homes = [stay for stay in state.stays if stay.service == "lcc-care-homes"]
    assert [(h.ended_at, h.care_type) for h in homes] == [
        (at(200), "residential"),
        (None, "nursing"),
    ]
