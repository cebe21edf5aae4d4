"""FHIR R4 Encounter to event contract v1: the emergency department attendance, admission,
transfers and discharge (or their cancellations) that one Encounter snapshot says happened.
Pure: no I/O, no clock."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from itertools import pairwise
from typing import Any, TypeVar

from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.encounter import Encounter
from fhir.resources.R4B.reference import Reference

from flowsight.schemas.codes import AdmissionMethod, AttendanceOutcome, DischargeDestination
from flowsight.schemas.events import SCHEMA_VERSION

NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
ADMISSION_METHOD_EXTENSION = (
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-AdmissionMethod"
)
ADMISSION_METHOD_ENGLAND = "https://fhir.hl7.org.uk/CodeSystem/UKCore-AdmissionMethodEngland"
SOURCE_OF_ADMISSION_ENGLAND = "https://fhir.hl7.org.uk/CodeSystem/UKCore-SourceOfAdmissionEngland"
DISCHARGE_DESTINATION_ENGLAND = (
    "https://fhir.hl7.org.uk/CodeSystem/UKCore-DischargeDestinationEngland"
)
HL7_ADMIT_SOURCE = "http://terminology.hl7.org/CodeSystem/admit-source"
HL7_DISCHARGE_DISPOSITION = "http://terminology.hl7.org/CodeSystem/discharge-disposition"
HL7_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
#: Senders may name a contract value directly, with these systems.
FLOWSIGHT_ADMISSION_METHOD = "urn:flowsight:admission-method"
FLOWSIGHT_DISCHARGE_DESTINATION = "urn:flowsight:discharge-destination"

#: The system part of `source` for every event the FHIR gateway makes: "RR8/fhir".
SOURCE_SYSTEM = "fhir"

# Dead-letter reasons of the FHIR gateway beyond those of services.validation.
INVALID_FHIR = "invalid_fhir"
UNSUPPORTED_ENCOUNTER = "unsupported_encounter"
MISSING_FIELD = "missing_field"
INVALID_FIELD = "invalid_field"

_Code = TypeVar("_Code")


def _table(system: str, groups: Mapping[str, _Code]) -> dict[tuple[str, str], _Code]:
    """A lookup by (system, code) from `{"space separated codes": value}`."""
    return {(system, code): value for codes, value in groups.items() for code in codes.split()}


_A, _D = AdmissionMethod, DischargeDestination

#: Admission method, tried in this order: the UK Core extension, admitSource, then class.
#: Unplanned maternity admissions and births (31, 32, 82, 83) count as emergencies, as in the
#: HL7 v2 gateway; 98 and 99 (not applicable, not known) decide nothing.
ADMISSION_METHOD_CODES = {
    **_table(
        ADMISSION_METHOD_ENGLAND,
        {
            "11 12 13": _A.ELECTIVE,
            "21 22 23 24 25 28 2A 2C 2D 31 32 82 83": _A.EMERGENCY,
            "2B 81": _A.TRANSFER_IN,
        },
    ),
    **_table(FLOWSIGHT_ADMISSION_METHOD, {method.value: method for method in _A}),
}
ADMIT_SOURCE_CODES = {
    **_table(
        HL7_ADMIT_SOURCE,
        {
            "hosp-trans nursing psych rehab": _A.TRANSFER_IN,
            "emd gp": _A.EMERGENCY,
            "outp mp": _A.ELECTIVE,
        },
    ),
    # Admitted from another hospital provider (NHS or not): a transfer in.
    **_table(SOURCE_OF_ADMISSION_ENGLAND, {"49 50 51 52 53 87": _A.TRANSFER_IN}),
    **_table(FLOWSIGHT_ADMISSION_METHOD, {method.value: method for method in _A}),
}
CLASS_CODES = _table(HL7_ACT_CODE, {"EMER": _A.EMERGENCY, "HH": _A.START_OF_CARE})

#: Discharge destination (code list 8.3) from Encounter.hospitalization.dischargeDisposition.
#: 98 and 99 (not applicable, not known) are `other`: the patient has left, which is what counts.
DISCHARGE_DESTINATION_CODES = {
    **_table(
        DISCHARGE_DESTINATION_ENGLAND,
        {
            "19": _D.USUAL_RESIDENCE,
            "48 49 50 51 52 53 84 87": _D.OTHER_HOSPITAL,
            "54": _D.CARE_HOME_NURSING,
            "65 85": _D.CARE_HOME_RESIDENTIAL,
            "79": _D.DIED,
            "88": _D.HOSPICE,
            "29 30 37 38 66 98 99": _D.OTHER,
        },
    ),
    **_table(
        HL7_DISCHARGE_DISPOSITION,
        {
            "home": _D.USUAL_RESIDENCE,
            "other-hcf psy": _D.OTHER_HOSPITAL,
            "hosp": _D.HOSPICE,
            "long snf": _D.CARE_HOME_NURSING,
            "rehab": _D.SHORT_TERM_BED,
            "exp": _D.DIED,
            "alt-home aadvice oth": _D.OTHER,
        },
    ),
    **_table(FLOWSIGHT_DISCHARGE_DESTINATION, {value.value: value for value in _D}),
}

#: Statuses whose snapshot says the patient was admitted (and, if finished, discharged).
ADMITTED_STATUSES = frozenset({"in-progress", "onleave", "finished"})
#: Statuses that retract whatever an earlier snapshot of the Encounter said.
RETRACTED_STATUSES = frozenset({"entered-in-error", "cancelled"})
#: Location entries that have not happened yet.
_NOT_YET = frozenset({"planned", "reserved"})


@dataclass(frozen=True, slots=True)
class MappedEvent:
    """A contract v1 event and, per event field, the Encounter element it came from."""

    event: dict[str, Any]
    elements: Mapping[str, str]

    def element_of(self, field: str) -> str:
        """The FHIR element an event field (e.g. `patient.nhs_number`) came from."""
        while field:
            if field in self.elements:
                return self.elements[field]
            field = field.rpartition(".")[0]
        return "Encounter"


@dataclass(frozen=True, slots=True)
class MappingProblem:
    """Why an Encounter cannot become events: a reason code, the element and a sentence."""

    reason: str
    element: str
    message: str


class _Refused(Exception):
    def __init__(self, reason: str, element: str, message: str) -> None:
        super().__init__(message)
        self.problem = MappingProblem(reason, element, message)


@dataclass(frozen=True, slots=True)
class _Stay:
    """One location of the Encounter's history: where (service, unit) and since when."""

    index: int
    service: str
    unit: str | None
    start: datetime | None


def encounter_events(
    encounter: Encounter,
    *,
    organisation: str | None,
    now: datetime,
    front_door: Collection[str] = frozenset(),
) -> list[MappedEvent] | MappingProblem:
    """The events an Encounter snapshot stands for, with idempotent ids, or why there are none.

    `organisation` is used when the Encounter names no serviceProvider; `now` times cancellations
    of an Encounter without meta.lastUpdated. Time spent at a `front_door` service (an emergency
    department) is an attendance there, not an admission: see `_department`.
    """
    try:
        return _events(encounter, organisation, now, front_door)
    except _Refused as refused:
        return refused.problem


@dataclass(frozen=True, slots=True)
class _Snapshot:
    """What every event of one Encounter shares, and the elements each shared field came from."""

    key: str
    common: dict[str, Any]
    elements: dict[str, str]
    stays: list[_Stay]

    def event(
        self, suffix: str, event_type: str, stay: _Stay, fields: dict[str, Any], **elements: str
    ) -> MappedEvent:
        """An event of this Encounter, its id `<key>:<suffix>`, in `stay`'s service."""
        body = {"event_id": f"{self.key}:{suffix}", "event_type": event_type, **self.common}
        where = {**self.elements, "service": _location_element(stay.index), **elements}
        return MappedEvent(body | {"service": stay.service} | fields, where)

    def transfers(self) -> list[tuple[str, _Stay, _Stay]]:
        """(id suffix, from, to) for each move to another service or unit in the history."""
        return [
            (f"transfer:{stay.index}", previous, stay)
            for previous, stay in pairwise(self.stays)
            if (previous.service, previous.unit) != (stay.service, stay.unit)
        ]


def _events(
    encounter: Encounter, organisation: str | None, now: datetime, front_door: Collection[str]
) -> list[MappedEvent]:
    status = encounter.status
    if status not in ADMITTED_STATUSES | RETRACTED_STATUSES:
        raise _Refused(
            UNSUPPORTED_ENCOUNTER,
            "Encounter.status",
            f"status {status!r} is not an admission, transfer or discharge; flowsight takes "
            "in-progress, onleave, finished, and entered-in-error or cancelled to retract",
        )
    snapshot = _snapshot(encounter, organisation)
    in_department = _department(snapshot.stays, front_door)
    if status in RETRACTED_STATUSES:
        return _cancellations(encounter, snapshot, now, in_department)
    if not in_department:
        events = [_admission(encounter, snapshot)]
    else:
        events = _attendance(encounter, snapshot, in_department, status)
        if len(in_department) == len(snapshot.stays):
            return events
        snapshot = replace(snapshot, stays=snapshot.stays[len(in_department) :])
        events.append(_admission_from_department(snapshot))
    for suffix, previous, stay in snapshot.transfers():
        start_element = f"Encounter.location[{stay.index}].period.start"
        fields = {
            "occurred_at": _timestamp(stay.start, start_element, "the transfer time"),
            "from_service": previous.service,
            "to_service": stay.service,
            **({"to_unit": stay.unit} if stay.unit else {}),
        }
        events.append(
            snapshot.event(
                suffix,
                "transfer",
                previous,
                fields,
                occurred_at=start_element,
                from_service=_location_element(previous.index),
                to_service=_location_element(stay.index),
                to_unit=f"Encounter.location[{stay.index}].location.display",
            )
        )
    if status == "finished":
        events.append(_discharge(encounter, snapshot))
    return events


def _snapshot(encounter: Encounter, organisation: str | None) -> _Snapshot:
    episode_id, episode_element = _episode(encounter)
    source_element = "Encounter.serviceProvider.identifier.value"
    provider = _identifier_value(encounter.serviceProvider) or organisation
    if provider is None:
        raise _Refused(
            MISSING_FIELD,
            source_element,
            "Encounter.serviceProvider.identifier (the ODS code) is required when the API "
            "key publishes for several organisations",
        )
    common = {
        "schema_version": SCHEMA_VERSION,
        "source": f"{provider}/{SOURCE_SYSTEM}",
        "patient": _patient(encounter),
        "episode_id": episode_id,
    }
    elements = {
        "event_id": "Encounter.id" if encounter.id else episode_element,
        "source": source_element,
        "patient": "Encounter.subject.identifier.value",
        "patient.id_system": "Encounter.subject.identifier.system",
        "episode_id": episode_element,
        "schema_version": "Encounter",
    }
    return _Snapshot(encounter.id or episode_id, common, elements, _stays(encounter))


def _admission(encounter: Encounter, snapshot: _Snapshot) -> MappedEvent:
    first = snapshot.stays[0]
    start = encounter.period.start if encounter.period else None
    method, method_element = _admission_method(encounter)
    fields = {
        "occurred_at": _timestamp(start, "Encounter.period.start", "the admission time"),
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
        unit=f"Encounter.location[{first.index}].location.display",
    )


def _department(stays: list[_Stay], front_door: Collection[str]) -> list[_Stay]:
    """The stays at the front door the Encounter begins with (empty: it begins with a stay).

    An Encounter that begins in the emergency department is an attendance there. If it moves on
    to a service that is not a front door, the patient left the department admitted at that
    moment, and the rest of the Encounter is an emergency admission, its transfers and discharge.
    Moves between front-door services (to an observation unit) continue the attendance.
    """
    count = 0
    while count < len(stays) and stays[count].service in front_door:
        count += 1
    return stays[:count]


def _attendance(
    encounter: Encounter, snapshot: _Snapshot, in_department: list[_Stay], status: str
) -> list[MappedEvent]:
    department = in_department[0]
    start = encounter.period.start if encounter.period else None
    arrived = _timestamp(start, "Encounter.period.start", "the arrival time")
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
        element = f"Encounter.location[{onward[0].index}].period.start"
        departed = _timestamp(onward[0].start, element, "the time the patient left for a ward")
        outcome, outcome_element = AttendanceOutcome.ADMITTED, _location_element(onward[0].index)
    elif status == "finished":
        element = "Encounter.period.end"
        end = encounter.period.end if encounter.period else None
        departed = _timestamp(end, element, "the time the patient left the department")
        outcome, outcome_element = _attendance_outcome(encounter)
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


def _attendance_outcome(encounter: Encounter) -> tuple[AttendanceOutcome, str]:
    """Left before treatment, transferred to another hospital, or (by default) discharged."""
    element = "Encounter.hospitalization.dischargeDisposition"
    disposition = (
        encounter.hospitalization.dischargeDisposition if encounter.hospitalization else None
    )
    if disposition is None:
        return AttendanceOutcome.DISCHARGED, element
    codes = {(c.system, c.code) for c in disposition.coding or []}
    if (HL7_DISCHARGE_DISPOSITION, "aadvice") in codes:
        return AttendanceOutcome.LEFT, element
    if _lookup(disposition, DISCHARGE_DESTINATION_CODES) == DischargeDestination.OTHER_HOSPITAL:
        return AttendanceOutcome.TRANSFERRED, element
    return AttendanceOutcome.DISCHARGED, element


def _admission_from_department(snapshot: _Snapshot) -> MappedEvent:
    """The emergency admission of a patient who left the department for `snapshot.stays[0]`."""
    ward = snapshot.stays[0]
    element = f"Encounter.location[{ward.index}].period.start"
    fields = {
        "occurred_at": _timestamp(ward.start, element, "the admission time"),
        "admission_method": AdmissionMethod.EMERGENCY.value,
        **({"unit": ward.unit} if ward.unit else {}),
    }
    return snapshot.event(
        "admission",
        "admission",
        ward,
        fields,
        occurred_at=element,
        admission_method=_location_element(ward.index - 1),
        unit=f"Encounter.location[{ward.index}].location.display",
    )


def _discharge(encounter: Encounter, snapshot: _Snapshot) -> MappedEvent:
    end = encounter.period.end if encounter.period else None
    fields = {
        "occurred_at": _timestamp(end, "Encounter.period.end", "the discharge time"),
        "destination": _destination(encounter).value,
    }
    return snapshot.event(
        "discharge",
        "discharge",
        snapshot.stays[-1],
        fields,
        occurred_at="Encounter.period.end",
        destination="Encounter.hospitalization.dischargeDisposition",
    )


def _cancellations(
    encounter: Encounter, snapshot: _Snapshot, now: datetime, in_department: list[_Stay]
) -> list[MappedEvent]:
    # Retract every event an earlier snapshot may have produced; a cancellation of an event that
    # never arrived changes nothing.
    retracted_at = encounter.meta.lastUpdated if encounter.meta else None
    occurred_at = _timestamp(retracted_at or now, "Encounter.meta.lastUpdated", "the retraction")
    targets: list[tuple[str, _Stay]] = []
    if in_department:
        targets += [("attendance", in_department[0]), ("attendance:departure", in_department[0])]
        snapshot = replace(snapshot, stays=snapshot.stays[len(in_department) :])
    if snapshot.stays:
        targets += [
            ("admission", snapshot.stays[0]),
            *((suffix, previous) for suffix, previous, _ in snapshot.transfers()),
            ("discharge", snapshot.stays[-1]),
        ]
    return [
        snapshot.event(
            f"{suffix}:cancelled",
            "cancellation",
            stay,
            {"occurred_at": occurred_at, "cancels_event_id": f"{snapshot.key}:{suffix}"},
            occurred_at="Encounter.meta.lastUpdated",
            cancels_event_id="Encounter.status",
        )
        for suffix, stay in targets
    ]


def _episode(encounter: Encounter) -> tuple[str, str]:
    for index, identifier in enumerate(encounter.identifier or []):
        if identifier.value:
            return identifier.value, f"Encounter.identifier[{index}].value"
    raise _Refused(
        MISSING_FIELD,
        "Encounter.identifier",
        "Encounter.identifier (the spell or episode id) is required",
    )


def _patient(encounter: Encounter) -> dict[str, str]:
    identifier = encounter.subject.identifier if encounter.subject else None
    if identifier is None or not identifier.value:
        raise _Refused(
            MISSING_FIELD,
            "Encounter.subject.identifier",
            f"Encounter.subject.identifier is required (system {NHS_NUMBER_SYSTEM}); "
            "a reference alone cannot be resolved",
        )
    if identifier.system == NHS_NUMBER_SYSTEM:
        return {"nhs_number": identifier.value}
    if not identifier.system:
        raise _Refused(
            MISSING_FIELD,
            "Encounter.subject.identifier.system",
            f"Encounter.subject.identifier.system is required: {NHS_NUMBER_SYSTEM} for an NHS "
            "number, or the local system that issued the id",
        )
    return {"local_id": identifier.value, "id_system": identifier.system}


def _stays(encounter: Encounter) -> list[_Stay]:
    stays = []
    for index, entry in enumerate(encounter.location or []):
        if entry.status in _NOT_YET:
            continue
        service = _identifier_value(entry.location) or _referenced_id(entry.location, "Location")
        if service is None:
            raise _Refused(
                MISSING_FIELD,
                _location_element(index),
                f"Encounter.location[{index}].location needs an identifier whose value is a "
                "flowsight service id (or a reference Location/<service id>)",
            )
        start = entry.period.start if entry.period else None
        stays.append(_Stay(index, service, entry.location.display, start))
    if not stays:
        raise _Refused(
            MISSING_FIELD,
            "Encounter.location",
            "Encounter.location needs at least one location that is not planned or reserved, "
            "identified by a flowsight service id",
        )
    return stays


def _admission_method(encounter: Encounter) -> tuple[AdmissionMethod, str]:
    hospitalization = encounter.hospitalization
    # UK Core puts the extension on Encounter.hospitalization; some senders put it on Encounter.
    for extensions, element in (
        ((hospitalization.extension or []) if hospitalization else [], "hospitalization.extension"),
        (encounter.extension or [], "extension"),
    ):
        for extension in extensions:
            if extension.url == ADMISSION_METHOD_EXTENSION:
                method = _lookup(extension.valueCodeableConcept, ADMISSION_METHOD_CODES)
                if method is not None:
                    return method, f"Encounter.{element}"
    if hospitalization is not None:
        method = _lookup(hospitalization.admitSource, ADMIT_SOURCE_CODES)
        if method is not None:
            return method, "Encounter.hospitalization.admitSource"
    method = CLASS_CODES.get((encounter.class_fhir.system or "", encounter.class_fhir.code or ""))
    if method is not None:
        return method, "Encounter.class"
    raise _Refused(
        MISSING_FIELD,
        "Encounter.hospitalization.admitSource",
        "the admission method cannot be told: give the UK Core AdmissionMethod extension, a "
        "hospitalization.admitSource meaning a transfer, emergency or elective admission, or "
        "class EMER or HH",
    )


def _destination(encounter: Encounter) -> DischargeDestination:
    element = "Encounter.hospitalization.dischargeDisposition"
    disposition = (
        encounter.hospitalization.dischargeDisposition if encounter.hospitalization else None
    )
    if disposition is None:
        raise _Refused(MISSING_FIELD, element, f"a finished Encounter needs {element}")
    destination = _lookup(disposition, DISCHARGE_DESTINATION_CODES)
    if destination is None:
        codes = ", ".join(f"{c.system}|{c.code}" for c in disposition.coding or [])
        raise _Refused(
            INVALID_FIELD,
            element,
            f"no discharge destination for {codes or 'a coding-less disposition'}; use the UK Core "
            f"DischargeDestinationEngland codes, {HL7_DISCHARGE_DISPOSITION}, or "
            f"{FLOWSIGHT_DISCHARGE_DESTINATION} with a code list 8.3 value",
        )
    return destination


def _lookup(
    concept: CodeableConcept | None, table: Mapping[tuple[str, str], _Code]
) -> _Code | None:
    for coding in (concept.coding or []) if concept else []:
        found = table.get((coding.system or "", coding.code or ""))
        if found is not None:
            return found
    return None


def _identifier_value(reference: Reference | None) -> str | None:
    if reference is None or reference.identifier is None:
        return None
    return reference.identifier.value or None


def _referenced_id(reference: Reference | None, resource_type: str) -> str | None:
    target = reference.reference if reference else None
    if target and target.startswith(f"{resource_type}/"):
        return target.removeprefix(f"{resource_type}/") or None
    return None


def _location_element(index: int) -> str:
    return f"Encounter.location[{index}].location.identifier.value"


def _timestamp(value: datetime | date | str | None, element: str, meaning: str) -> str:
    if value is None:
        raise _Refused(MISSING_FIELD, element, f"{element} ({meaning}) is required")
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise _Refused(
            INVALID_FIELD,
            element,
            f"{element} needs a date, a time and an offset (e.g. 2026-11-23T09:30:00+00:00), "
            f"got {value!s}",
        )
    return value.isoformat()
