"""Reading an Encounter's plain elements: the episode, the patient, the locations, the times.

Each reader returns the value flowsight needs or raises `Refused` naming the element.
Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TypeGuard

from fhir.resources.R4B.encounter import Encounter
from fhir.resources.R4B.period import Period
from fhir.resources.R4B.reference import Reference

from flowsight.services.validation import INVALID_FIELD, MISSING_FIELD, Refused

# Dead-letter reasons of the FHIR gateway beyond those of services.validation.
INVALID_FHIR = "invalid_fhir"
UNSUPPORTED_ENCOUNTER = "unsupported_encounter"

#: The system of a patient's NHS number in an identifier (UK Core).
NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
#: Every system an NHS number is sent under: UK Core's, the NHS number's OID (as HL7 v2 and
#: older interfaces give it), and the DSTU2 profiles' address still found in older feeds; each
#: also with http or https, in any case, with a trailing slash (another system to FHIR, the
#: same number to us: `is_nhs_number_system`).
NHS_NUMBER_SYSTEMS = frozenset(
    {
        "fhir.nhs.uk/id/nhs-number",
        "fhir.nhs.net/id/nhs-number",
        "urn:oid:2.16.840.1.113883.2.1.4.1",
    }
)


def a_resource(kind: object) -> str:
    """`kind` (a resource type) with its article: "a Patient", "an Encounter"."""
    word = str(kind)
    return f"{'an' if word[:1].upper() in 'AEIOU' else 'a'} {word}"


def plain_system(system: str) -> str:
    """A code or identifier system as senders' variants of it compare: any case, http or
    https (the scheme left out), with or without a trailing slash."""
    scheme, found, rest = system.strip().rstrip("/").lower().partition("://")
    if not found:
        return scheme
    return rest if scheme in ("http", "https") else f"{scheme}://{rest}"


def is_nhs_number_system(system: str | None) -> bool:
    """Whether an identifier of `system` is an NHS number (`NHS_NUMBER_SYSTEMS`)."""
    return bool(system) and plain_system(str(system)) in NHS_NUMBER_SYSTEMS


@dataclass(frozen=True, slots=True)
class Note:
    """A warning about an accepted Encounter: a default was used where the sender said nothing
    flowsight knows (an unmapped location, an unknown code), so a person should look."""

    element: str
    message: str


def instant(value: object) -> TypeGuard[datetime]:
    """Whether `value` is a moment that compares with others (a date-time with an offset)."""
    return isinstance(value, datetime) and value.tzinfo is not None


def episode(encounter: Encounter) -> tuple[str, str]:
    """The spell or episode id and its element: the first Encounter.identifier with a value,
    else the Encounter's own id (logical id, stable across versions).

    An identifier in the NHS number's system is the patient's, put there by mistake, never the
    spell's: it is passed over, or the number would name every event, in Kafka and answers."""
    for index, identifier in enumerate(encounter.identifier or []):
        if identifier.value and not is_nhs_number_system(identifier.system):
            return identifier.value, f"Encounter.identifier[{index}].value"
    if encounter.id:
        return encounter.id, "Encounter.id"
    raise Refused(
        MISSING_FIELD,
        "Encounter.identifier",
        "Encounter.identifier (the spell or episode id) or Encounter.id is required",
    )


def identifier_value(reference: Reference | None) -> str | None:
    """The value of a reference's logical identifier, if it has one."""
    if reference is None or reference.identifier is None:
        return None
    return reference.identifier.value or None


def unversioned(target: str) -> str:
    """A literal reference without its version (`Patient/1/_history/2` → `Patient/1`): FHIR R4
    resolves a version-specific reference to the resource, whichever version it holds."""
    head, marker, _ = target.partition("/_history/")
    return head if marker else target


def referenced_id(reference: Reference | None, resource_type: str) -> str | None:
    """The id in a literal reference `<resource_type>/<id>` (of any version), if it is one."""
    target = unversioned(reference.reference) if reference and reference.reference else None
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


def in_order(period: Period | None, element: str) -> None:
    """Refused when `period` ends before it starts (FHIR R4 invariant per-1): a discharge
    before its admission would leave the patient in a bed for good."""
    start, end = (period.start, period.end) if period else (None, None)
    if not (isinstance(start, datetime) and isinstance(end, datetime)):
        return
    if start.tzinfo is None or end.tzinfo is None or end >= start:
        return  # an instant without an offset is refused where it is read
    raise Refused(
        INVALID_FIELD,
        f"{element}.end",
        f"{element}.end ({end.isoformat()}) is before its start ({start.isoformat()}); a "
        "Period's start must not be after its end (FHIR R4 invariant per-1)",
    )
