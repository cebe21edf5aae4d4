"""Following an Encounter's references: to a resource it contains (`#id`), or to another entry of
the transaction Bundle it came in (its `fullUrl`, a `urn:uuid:`, or `Patient/<id>`); the
organisation it is of. The patient it is about is read in `patient.py`.

FHIR R4's rules for resolving references in a Bundle (http://hl7.org/fhir/R4/bundle.html#references)
are followed as far as a sender's Bundle can need: an absolute reference or a `urn:uuid:` matches
an entry's `fullUrl`; a relative one (`Patient/123`) an entry whose resource has that type and id,
or whose RESTful `fullUrl` ends so. Pure: no I/O, and nothing is fetched from a server.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

from fhir.resources.R4B.encounter import Encounter
from fhir.resources.R4B.location import Location
from fhir.resources.R4B.organization import Organization
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.reference import Reference
from pydantic import ValidationError

from flowsight.adapters.fhir.elements import (
    INVALID_FHIR,
    UNSUPPORTED_ENCOUNTER,
    Note,
    a_resource,
    unversioned,
)
from flowsight.adapters.fhir.structure import problems
from flowsight.services.validation import MISSING_FIELD, Refused

_Found = TypeVar("_Found", Patient, Location, Organization)

#: The system of an organisation's ODS code in an Organization.identifier (UK Core).
ODS_ORGANIZATION_CODE = "https://fhir.nhs.uk/Id/ods-organization-code"


class BundleIndex:
    """The resources of a transaction Bundle by every name a reference may give them."""

    def __init__(self, entries: Sequence[object] = (), timestamp: object = None) -> None:
        self._named: dict[str, tuple[int, dict[str, Any]]] = {}
        #: When the Bundle was assembled (`Bundle.timestamp`, an instant), if it says.
        self.timestamp = _instant(timestamp)
        #: How many Encounters the Bundle holds.
        self.encounters = 0
        for index, entry in enumerate(entries):
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if not isinstance(resource, dict):
                continue
            kind, logical_id = resource.get("resourceType"), resource.get("id")
            self.encounters += kind == "Encounter"
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


def _instant(value: object) -> datetime | None:
    """`value` as an instant: a date-time with an offset, else None."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


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
            f"{element} {shown(target, kind)} is {where}, {a_resource(resource.get('resourceType'))}, "
            f"not {a_resource(kind)}",
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


def _as(model: type[_Found], resource: object, element: str, what: str) -> _Found:
    if isinstance(resource, model):
        return resource
    kind = getattr(resource, "get_resource_type", lambda: "resource")()
    raise Refused(
        MISSING_FIELD,
        element,
        f"{element}: {what} is {a_resource(kind)}, not {a_resource(model.get_resource_type())}",
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
