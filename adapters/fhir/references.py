"""Following an Encounter's references: to a resource it contains (`#id`), or to another entry of
the transaction Bundle it came in (its `fullUrl`, a `urn:uuid:`, or `Patient/<id>`), and reading
the patient it is about.

FHIR R4's rules for resolving references in a Bundle (http://hl7.org/fhir/R4/bundle.html#references)
are followed as far as a sender's Bundle can need: an absolute reference or a `urn:uuid:` matches
an entry's `fullUrl`; a relative one (`Patient/123`) an entry whose resource has that type and id,
or whose RESTful `fullUrl` ends so. Pure: no I/O, and nothing is fetched from a server.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar
from urllib.parse import parse_qs

from fhir.resources.R4B.encounter import Encounter
from fhir.resources.R4B.location import Location
from fhir.resources.R4B.organization import Organization
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.reference import Reference
from pydantic import ValidationError

from flowsight.adapters.fhir.elements import (
    INVALID_FHIR,
    NHS_NUMBER_SYSTEM,
    NHS_NUMBER_SYSTEMS,
    UNSUPPORTED_ENCOUNTER,
    Note,
    instant,
    problems,
    unversioned,
)
from flowsight.adapters.fhir.nhs_number import untraced
from flowsight.services.nhs_number_status import identity
from flowsight.services.validation import MISSING_FIELD, Refused

_Found = TypeVar("_Found", Patient, Location, Organization)

#: The system of an organisation's ODS code in an Organization.identifier (UK Core).
ODS_ORGANIZATION_CODE = "https://fhir.nhs.uk/Id/ods-organization-code"


class BundleIndex:
    """The resources of a transaction Bundle by every name a reference may give them."""

    def __init__(self, entries: Sequence[object] = ()) -> None:
        self._named: dict[str, tuple[int, dict[str, Any]]] = {}
        for index, entry in enumerate(entries):
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if not isinstance(resource, dict):
                continue
            kind, logical_id = resource.get("resourceType"), resource.get("id")
            url = entry.get("fullUrl") if isinstance(entry, dict) else None
            names = [url] if isinstance(url, str) and url else []
            if isinstance(kind, str) and isinstance(logical_id, str) and logical_id:
                names.append(f"{kind}/{logical_id}")
            if isinstance(url, str) and url.startswith(("http://", "https://")):
                names.append(_relative(url))
            for name in names:
                # The first entry a name points at wins: a second is the sender's mistake.
                self._named.setdefault(name, (index, resource))

    def find(self, reference: str) -> tuple[int, dict[str, Any]] | None:
        """The entry (index, resource) `reference` names, if the Bundle holds it."""
        reference = unversioned(reference)
        found = self._named.get(reference)
        if found is None and reference.startswith(("http://", "https://")):
            found = self._named.get(_relative(reference))
        return found


#: No Bundle: a single posted Encounter can refer only to what it contains.
NO_BUNDLE = BundleIndex()


def resolve(
    reference: Reference | None,
    model: type[_Found],
    encounter: Encounter,
    bundle: BundleIndex,
    element: str,
) -> _Found | None:
    """The `model` resource `reference` points at (contained or in the Bundle), else None.

    Refused when it points at a resource of another type or one that is not valid FHIR.
    """
    target = reference.reference if reference else None
    if not target:
        return None
    kind = model.get_resource_type()
    if target.startswith("#"):
        for contained in encounter.contained or []:
            if contained.id == target[1:]:
                return _as(model, contained, element, f"the contained resource {target}")
        return None
    found = bundle.find(target)
    if found is None:
        return None
    index, resource = found
    where = f"Bundle.entry[{index}]"
    if resource.get("resourceType") != kind:
        raise Refused(
            MISSING_FIELD,
            element,
            f"{element} {shown(target, kind)} is {where}, a {resource.get('resourceType')}, "
            f"not a {kind}",
        )
    try:
        return model.model_validate(resource)
    except (ValidationError, ValueError, KeyError) as invalid:
        raise Refused(
            INVALID_FHIR,
            element,
            f"{element} {shown(target, kind)} is {where}, not a valid {kind}: {problems(invalid)}",
        ) from None


def whereabouts(reference: Reference | None, encounter: Encounter, bundle: BundleIndex) -> str:
    """The element of the resource `reference` points at, as an answer names it: the Encounter's
    `Encounter.contained[i]`, or the transaction's `Bundle.entry[n].resource` (outside the
    Encounter: a refusal names it whole). Empty when it is neither."""
    target = reference.reference if reference else None
    if not target:
        return ""
    if target.startswith("#"):
        for index, contained in enumerate(encounter.contained or []):
            if contained.id == target[1:]:
                return f"Encounter.contained[{index}]"
        return ""
    found = bundle.find(target)
    return f"Bundle.entry[{found[0]}].resource" if found else ""


def shown(target: str, kind: str) -> str:
    """A reference as a message may quote it. A Patient's id or search may be the NHS number
    (the PDS FHIR API's ids are), and an answer or a dead letter's header must not carry one:
    of a Patient reference only its shape is shown."""
    if kind != "Patient" or target.startswith(("#", "urn:uuid:")):
        return repr(target)
    target = unversioned(target)
    if "?" in target:
        return repr(target.split("?", 1)[0] + "?…") + " (a conditional reference)"
    return repr(target.rsplit("/", 1)[0] + "/…") if "/" in target else "(an id)"


def patient(
    encounter: Encounter, bundle: BundleIndex, notes: list[Note]
) -> tuple[dict[str, str], str]:
    """The contract patient and the element it was read from.

    `Encounter.subject.identifier` if it has a value; otherwise the Patient `subject.reference`
    points at, contained or in the same Bundle: its NHS number, else its first identifier with a
    system and value that is not `old` (`patient_identity`). An NHS number whose verification
    status says it was not traced is noted in `notes`.
    """
    subject = encounter.subject
    identifier = subject.identifier if subject else None
    if identifier is not None and identifier.value:
        if identifier.system in NHS_NUMBER_SYSTEMS:
            if why := untraced(identifier):
                local = _referenced_local_id(encounter, bundle)
                note = _as_sent(why) if local is None else _gives_way(why, local)
                notes.append(Note("Encounter.subject.identifier.extension", note))
                if local is not None:
                    return local, "Encounter.subject.reference"
            return {"nhs_number": identifier.value}, "Encounter.subject.identifier.value"
        if not identifier.system:
            raise Refused(
                MISSING_FIELD,
                "Encounter.subject.identifier.system",
                "Encounter.subject.identifier.system is required: "
                f"{NHS_NUMBER_SYSTEM} for an NHS number, or the local system that issued the id",
            )
        return (
            {"local_id": identifier.value, "id_system": identifier.system},
            "Encounter.subject.identifier.value",
        )
    element = "Encounter.subject.reference"
    target = subject.reference if subject else None
    if not target:
        raise Refused(
            MISSING_FIELD,
            "Encounter.subject.identifier",
            f"Encounter.subject needs an identifier (system {NHS_NUMBER_SYSTEM}) or a reference "
            "to a Patient contained in the Encounter or sent in the same transaction",
        )
    found = resolve(subject, Patient, encounter, bundle, element)
    if found is None:
        searched = _searched_identity(target)
        if searched is not None:
            return searched, element
        raise Refused(
            MISSING_FIELD,
            element,
            f"{element} {shown(target, 'Patient')} is neither a Patient contained in the "
            "Encounter nor an entry of its transaction Bundle, nor a conditional reference "
            "Patient?identifier=<system>|<value>; give Encounter.subject.identifier (the NHS "
            "number) or send the Patient in the same transaction",
        )
    identity = patient_identity(found, whereabouts(subject, encounter, bundle), notes)
    if identity is None:
        raise Refused(
            MISSING_FIELD,
            element,
            f"the Patient {shown(target, 'Patient')} has neither an NHS number "
            f"({NHS_NUMBER_SYSTEM}) nor an identifier with a system and a value",
        )
    return identity, element


def _searched_identity(target: str) -> dict[str, str] | None:
    """The patient a conditional reference searches for by one identifier with a system
    (`Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|9434765919`): in a transaction it
    stands for the Patient that identifier names, as R4's transaction rules resolve it."""
    if not target.startswith("Patient?"):
        return None
    searched = parse_qs(target.removeprefix("Patient?")).get("identifier", [])
    if len(searched) != 1:
        return None
    system, bar, value = searched[0].rpartition("|")
    if not (bar and system and value):
        return None
    if system in NHS_NUMBER_SYSTEMS:
        return {"nhs_number": value}
    return {"local_id": value, "id_system": system}


def provider_identifier(encounter: Encounter) -> str | None:
    """The ODS code `serviceProvider.identifier` gives: its value when its system is the ODS
    code's, or when it names no system (senders often give the bare code).

    An identifier of another system (Germany's Medical Informatics Initiative names a department
    contact's provider by its own department identifier) names no organisation flowsight knows:
    it is passed over, as an Organization's other identifiers are (`provider_code`), and the key's
    own organisation is the better guess. Read as an ODS code it was refused as the source, or
    as an organisation the key does not publish for."""
    found = encounter.serviceProvider.identifier if encounter.serviceProvider else None
    if found is None or not found.value or found.system not in (None, ODS_ORGANIZATION_CODE):
        return None
    return str(found.value)


def provider_code(encounter: Encounter, bundle: BundleIndex = NO_BUNDLE) -> str | None:
    """The ODS code of the Organization `serviceProvider.reference` points at, contained or in
    the same transaction (UK Core's Encounter refers to its trust so), if it has one.

    Only an identifier in the ODS system is taken: another (a Synthea UUID) names no
    organisation flowsight knows, and the key's own organisation is the better guess. A
    reference to something else than a valid Organization is passed over, as it was before
    references to Organizations were followed."""
    try:
        found = resolve(
            encounter.serviceProvider, Organization, encounter, bundle, "Encounter.serviceProvider"
        )
    except Refused:  # not an Organization, or not valid FHIR: as if it were not there
        return None
    for identifier in (found.identifier or []) if found else []:
        if identifier.system == ODS_ORGANIZATION_CODE and identifier.value:
            return str(identifier.value)
    return None


def died_in(encounter: Encounter, bundle: BundleIndex, notes: list[Note]) -> bool:
    """Whether the Patient the Encounter's subject refers to (contained, or in the same
    transaction or message: as it stood when the Encounter was sent) died during the Encounter:
    `deceasedDateTime` within its period (Synthea's hospice stays end at the death), or
    `deceasedBoolean` true, read as this stay's death with a note. A death dated by day only,
    or outside the period, is not this stay's: a note says so."""
    try:
        found = resolve(encounter.subject, Patient, encounter, bundle, "Encounter.subject")
    except Refused:  # the identity's own reading refuses it, naming the element
        return False
    if found is None or (not found.deceasedBoolean and found.deceasedDateTime is None):
        return False
    if found.deceasedBoolean:
        notes.append(
            Note("Patient.deceasedBoolean", "the Patient is deceased: the discharge is a death")
        )
        return True
    moment = found.deceasedDateTime
    start, end = (
        (encounter.period.start, encounter.period.end) if encounter.period else (None, None)
    )
    if instant(moment) and instant(start) and instant(end) and start <= moment <= end:
        return True
    notes.append(
        Note(
            "Patient.deceasedDateTime",
            "the Patient's death is not dated within the Encounter's period (or by day "
            "only): the discharge is not read as a death",
        )
    )
    return False


def _referenced_local_id(encounter: Encounter, bundle: BundleIndex) -> dict[str, str] | None:
    """The local identifier of the Patient `Encounter.subject.reference` points at, when it is
    contained or in the same transaction and has one; else None (never a refusal: the subject's
    identifier is there to use)."""
    subject = encounter.subject
    try:
        found = resolve(subject, Patient, encounter, bundle, "Encounter.subject.reference")
    except Refused:
        return None
    identity = None if found is None else patient_identity(found, "", [])
    if identity is None or "local_id" not in identity:
        return None
    return {"local_id": identity["local_id"], "id_system": identity["id_system"]}


def patient_identity(found: Patient, where: str, notes: list[Note]) -> dict[str, str] | None:
    """A Patient's NHS number and its first current local identifier with a system, or either.

    Both when both are there: the local id links what the same source sent before the number
    was traced (services/identities.py). A number whose verification status is not 01 (present
    and verified) is not a traced NHS number: the local identifier alone is the patient until
    a version says it was traced, as the HL7 gateway takes the local id alone beside an NHS
    number it cannot use; without a local identifier the number is used as sent. Either way
    `notes` says so, naming the identifier's extension below `where` (the Patient's element)."""
    usable = [
        (index, i) for index, i in enumerate(found.identifier or []) if i.value and i.use != "old"
    ]
    nhs = next(((index, i) for index, i in usable if i.system in NHS_NUMBER_SYSTEMS), None)
    local = next(
        (
            {"local_id": str(i.value), "id_system": str(i.system)}
            for _, i in usable
            if i.system and i.system not in NHS_NUMBER_SYSTEMS
        ),
        None,
    )
    if nhs is None:
        return local
    index, identifier = nhs
    why = untraced(identifier)
    if why is not None:
        element = f"{where}.identifier[{index}].extension"
        notes.append(Note(element, _as_sent(why) if local is None else _gives_way(why, local)))
    return identity(str(identifier.value), local, why)


def _gives_way(why: str, local: dict[str, str]) -> str:
    """The note on an NHS number not traced, the local identifier `local` used instead."""
    return (
        f"the Patient's NHS number is not a traced one ({why}): the patient is the local "
        f"identifier ({local['id_system']}) alone, linked to the number once a version of "
        "the Patient says 01, number present and verified"
    )


def _as_sent(why: str) -> str:
    """The note on an NHS number not traced, with no local identifier to use instead."""
    return (
        f"the NHS number is not a traced one ({why}) and no local identifier is sent beside "
        "it: the number is used as sent; send the Patient's local identifier too"
    )


def _as(model: type[_Found], resource: object, element: str, what: str) -> _Found:
    if isinstance(resource, model):
        return resource
    kind = getattr(resource, "get_resource_type", lambda: "resource")()
    raise Refused(
        MISSING_FIELD, element, f"{element}: {what} is a {kind}, not a {model.get_resource_type()}"
    )


def _relative(url: str) -> str:
    """`Patient/123` of a RESTful URL `https://server/fhir/Patient/123`."""
    return "/".join(url.rstrip("/").split("/")[-2:])


def part_of(parent: Reference, bundle: BundleIndex) -> Note:
    """An Encounter that is part of another (an episode within a spell, a ward stay within an
    admission) publishes nothing: the patient's admission, moves and discharge are the spell's,
    and mapping both would admit the patient twice. In the same transaction as the Encounter it
    is part of it is noted; alone, refused, so that the sender learns to send the spell."""
    target = parent.reference or ""
    found = bundle.find(target) if target else None
    if found is None or found[1].get("resourceType") != "Encounter":
        raise Refused(
            UNSUPPORTED_ENCOUNTER,
            "Encounter.partOf",
            "an Encounter that is part of another (partOf) is an episode of a spell: flowsight "
            "maps the spell, the Encounter it is part of, with its location history; send that "
            "one (in the same transaction, this one is noted and not mapped)",
        )
    return Note(
        "Encounter.partOf",
        f"part of Bundle.entry[{found[0]}], whose admission, moves and discharge are the "
        "patient's: nothing published for this Encounter",
    )
