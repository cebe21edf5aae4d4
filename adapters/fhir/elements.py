"""Reading an Encounter's plain elements: the episode, the patient, the locations, the times.

Each reader returns the value flowsight needs or raises `Refused` naming the element.
Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from fhir.resources.R4B.encounter import Encounter
from fhir.resources.R4B.reference import Reference

from flowsight.adapters.fhir.codes import NHS_NUMBER_SYSTEM
from flowsight.services.validation import INVALID_FIELD, MISSING_FIELD, Refused

#: Location entries that have not happened yet.
_NOT_YET = frozenset({"planned", "reserved"})


@dataclass(frozen=True, slots=True)
class Stay:
    """One location of the Encounter's history: where (service, unit) and since when."""

    index: int
    service: str
    unit: str | None
    start: datetime | None


def episode(encounter: Encounter) -> tuple[str, str]:
    """The spell or episode id (the first Encounter.identifier with a value) and its element."""
    for index, identifier in enumerate(encounter.identifier or []):
        if identifier.value:
            return identifier.value, f"Encounter.identifier[{index}].value"
    raise Refused(
        MISSING_FIELD,
        "Encounter.identifier",
        "Encounter.identifier (the spell or episode id) is required",
    )


def patient(encounter: Encounter) -> dict[str, str]:
    """The contract patient: an NHS number, or a local id and the system that issued it."""
    identifier = encounter.subject.identifier if encounter.subject else None
    if identifier is None or not identifier.value:
        raise Refused(
            MISSING_FIELD,
            "Encounter.subject.identifier",
            f"Encounter.subject.identifier is required (system {NHS_NUMBER_SYSTEM}); "
            "a reference alone cannot be resolved",
        )
    if identifier.system == NHS_NUMBER_SYSTEM:
        return {"nhs_number": identifier.value}
    if not identifier.system:
        raise Refused(
            MISSING_FIELD,
            "Encounter.subject.identifier.system",
            f"Encounter.subject.identifier.system is required: {NHS_NUMBER_SYSTEM} for an NHS "
            "number, or the local system that issued the id",
        )
    return {"local_id": identifier.value, "id_system": identifier.system}


def stays(encounter: Encounter) -> list[Stay]:
    """The locations the patient has been at, in order; planned and reserved ones left out."""
    found = []
    for index, entry in enumerate(encounter.location or []):
        if entry.status in _NOT_YET:
            continue
        service = identifier_value(entry.location) or referenced_id(entry.location, "Location")
        if service is None:
            raise Refused(
                MISSING_FIELD,
                location_element(index),
                f"Encounter.location[{index}].location needs an identifier whose value is a "
                "flowsight service id (or a reference Location/<service id>)",
            )
        start = entry.period.start if entry.period else None
        found.append(Stay(index, service, entry.location.display, start))
    if not found:
        raise Refused(
            MISSING_FIELD,
            "Encounter.location",
            "Encounter.location needs at least one location that is not planned or reserved, "
            "identified by a flowsight service id",
        )
    return found


def identifier_value(reference: Reference | None) -> str | None:
    """The value of a reference's logical identifier, if it has one."""
    if reference is None or reference.identifier is None:
        return None
    return reference.identifier.value or None


def referenced_id(reference: Reference | None, resource_type: str) -> str | None:
    """The id in a literal reference `<resource_type>/<id>`, if it is one."""
    target = reference.reference if reference else None
    if target and target.startswith(f"{resource_type}/"):
        return target.removeprefix(f"{resource_type}/") or None
    return None


def location_element(index: int) -> str:
    """The element naming the service of location `index`."""
    return f"Encounter.location[{index}].location.identifier.value"


def timestamp(value: datetime | date | str | None, element: str, meaning: str) -> str:
    """`value` as an ISO 8601 instant; Refused unless it is a date, a time and an offset."""
    if value is None:
        raise Refused(MISSING_FIELD, element, f"{element} ({meaning}) is required")
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise Refused(
            INVALID_FIELD,
            element,
            f"{element} needs a date, a time and an offset (e.g. 2026-11-23T09:30:00+00:00), "
            f"got {value!s}",
        )
    return value.isoformat()
