"""An inpatient stay's two ends as events: the admission at the Encounter's `period.start` and
the discharge at its `period.end`, their codes read through the sender's profile. Pure: no I/O."""

from __future__ import annotations

from fhir.resources.R4B.encounter import Encounter

from flowsight.adapters.fhir.codes import admission_method, destination
from flowsight.adapters.fhir.elements import Note, timestamp
from flowsight.adapters.fhir.snapshot import MappedEvent, Snapshot


def admission(encounter: Encounter, snapshot: Snapshot, notes: list[Note]) -> MappedEvent:
    """The admission: at `period.start`, into the first stay's service and unit."""
    first = snapshot.stays[0]
    start = encounter.period.start if encounter.period else None
    vendor = snapshot.profile.codes.admission_method if snapshot.profile else {}
    method, method_element = admission_method(encounter, notes, vendor)
    fields = {
        "occurred_at": timestamp(start, "Encounter.period.start", "the admission time"),
        "admission_method": method.value,
        **({"unit": first.unit} if first.unit else {}),
    }
    return snapshot.event(
        "admission",
        "admission",
        first,
        fields,
        occurred_at="Encounter.period.start",
        admission_method=method_element,
        unit=first.unit_element,
    )


def discharge(
    encounter: Encounter, snapshot: Snapshot, notes: list[Note], *, died: bool
) -> MappedEvent:
    """The discharge: at `period.end`, from the last stay's service, to its destination."""
    end = encounter.period.end if encounter.period else None
    vendor = snapshot.profile.codes.discharge_destination if snapshot.profile else {}
    fields = {
        "occurred_at": timestamp(end, "Encounter.period.end", "the discharge time"),
        "destination": destination(encounter, notes, vendor, died=died).value,
    }
    return snapshot.event(
        "discharge",
        "discharge",
        snapshot.stays[-1],
        fields,
        occurred_at="Encounter.period.end",
        destination="Encounter.hospitalization.dischargeDisposition",
    )
