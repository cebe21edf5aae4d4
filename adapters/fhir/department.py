"""An Encounter that begins in the emergency department: its attendance there, and the emergency
admission of a patient who left the department for a ward. Pure: no I/O.

An Encounter that begins at a front door (an emergency department) is an attendance there. If it
moves on to a service that is not a front door, the patient left the department admitted at that
moment, and the rest of the Encounter is an emergency admission, its transfers and discharge.
Moves between front-door services (to an observation unit) continue the attendance.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace

from fhir.resources.R4B.encounter import Encounter

from flowsight.adapters.fhir.codes import attendance_outcome
from flowsight.adapters.fhir.elements import Note, location_element, timestamp
from flowsight.adapters.fhir.snapshot import MappedEvent, Snapshot
from flowsight.adapters.fhir.stay import Stay
from flowsight.schemas.codes import AdmissionMethod, AttendanceOutcome
from flowsight.services.validation import UNKNOWN_SERVICE, Refused


def department_stays(stays: list[Stay], front_door: Collection[str]) -> list[Stay]:
    """The stays at the front door the Encounter begins with (empty: it begins with a stay)."""
    count = 0
    while count < len(stays) and stays[count].service in front_door:
        count += 1
    return stays[:count]


def emergency_arrival(
    stays: list[Stay], departments: Collection[str], notes: list[Note]
) -> list[Stay]:
    """The stays of an emergency Encounter (class EMER), its first places that only the
    profile's default service placed read as its organisation's emergency department, as the
    HL7 gateway reads class E at such a location: a trust's first FHIR feed, its locations not
    yet mapped, still shows its ED's arrivals as attendances, not ward admissions. A place a
    rule puts on a ward is there whatever the class (some systems keep EMER on the spell after
    the patient is admitted). With no department the Encounter is an admission, as an arrival
    of class E is at an organisation without one; with several, the place must be mapped."""
    count = 0
    while count < len(stays) and stays[count].by_default:
        count += 1
    if not count or not departments:
        return stays
    # A stay of an Encounter with no location at all names no `location[0]`.
    first = stays[0]
    element = first.unit_element if first.unit_element == "Encounter.location" else None
    element = element or location_element(first.index)
    if len(departments) > 1:
        raise Refused(
            UNKNOWN_SERVICE,
            element,
            f"an emergency Encounter (class EMER) at a place no rule of the mapping profile "
            f"knows, and the organisation has {len(departments)} emergency departments: map "
            f"{element} to one of {', '.join(sorted(departments))}",
        )
    (department,) = departments
    notes.append(
        Note(
            element, f"class EMER at a place no rule knows: the emergency department {department!r}"
        )
    )
    return [replace(stay, service=department) for stay in stays[:count]] + stays[count:]


def attendance(
    encounter: Encounter,
    snapshot: Snapshot,
    in_department: list[Stay],
    status: str,
    notes: list[Note],
) -> list[MappedEvent]:
    """The attendance's arrival and, once the patient left (for a ward, or finished), its
    departure with the outcome."""
    department = in_department[0]
    start = encounter.period.start if encounter.period else None
    arrived = timestamp(start, "Encounter.period.start", "the arrival time")
    arrival = snapshot.event(
        "attendance",
        "attendance",
        department,
        {"occurred_at": arrived, "arrived_at": arrived},
        occurred_at="Encounter.period.start",
        arrived_at="Encounter.period.start",
    )
    onward = snapshot.stays[len(in_department) :]
    if onward:
        element = onward[0].start_element
        departed = timestamp(onward[0].start, element, "the time the patient left for a ward")
        outcome, outcome_element = AttendanceOutcome.ADMITTED, location_element(onward[0].index)
    elif status == "finished":
        element = "Encounter.period.end"
        end = encounter.period.end if encounter.period else None
        departed = timestamp(end, element, "the time the patient left the department")
        outcome, outcome_element = attendance_outcome(encounter, notes)
    else:
        return [arrival]
    fields = {
        "occurred_at": departed,
        "arrived_at": arrived,
        "departed_at": departed,
        "outcome": outcome.value,
    }
    departure = snapshot.event(
        "attendance:departure",
        "attendance",
        department,
        fields,
        occurred_at=element,
        arrived_at="Encounter.period.start",
        departed_at=element,
        outcome=outcome_element,
    )
    return [arrival, departure]


def admission_from_department(snapshot: Snapshot) -> MappedEvent:
    """The emergency admission of a patient who left the department for `snapshot.stays[0]`."""
    ward = snapshot.stays[0]
    element = ward.start_element
    fields = {
        "occurred_at": timestamp(ward.start, element, "the admission time"),
        "admission_method": AdmissionMethod.EMERGENCY.value,
        **({"unit": ward.unit} if ward.unit else {}),
    }
    return snapshot.event(
        "admission",
        "admission",
        ward,
        fields,
        occurred_at=element,
        admission_method=location_element(ward.index - 1),
        unit=ward.unit_element,
    )
