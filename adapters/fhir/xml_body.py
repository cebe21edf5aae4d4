"""FHIR XML (`application/fhir+xml`, as UK Core publishes its examples) read safely.

fhir.resources reads FHIR XML through lxml (`model_validate_xml`, its `[xml]` extra); it is given a
parser that never resolves an entity, loads a DTD or touches the network, and a document that
declares a DOCTYPE at all is refused before anything is read from it (FHIR XML never has one;
it is how entity-expansion and external-entity attacks arrive). The resource is turned into the
FHIR JSON shape the rest of the gateway reads, so both formats follow one path. No I/O.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.encounter import Encounter
from fhir.resources.R4B.patient import Patient
from lxml import etree

from flowsight.adapters.fhir.elements import INVALID_FHIR
from flowsight.adapters.fhir.outcome import Issue
from flowsight.adapters.fhir.structure import structure_issues
from flowsight.adapters.fhir.xml_faults import faults
from flowsight.services.validation import Rejected

FHIR_XML = "application/fhir+xml"
_FHIR_NAMESPACE = "http://hl7.org/fhir"
_MODELS: dict[str, type[Encounter] | type[Bundle] | type[Patient]] = {
    "Encounter": Encounter,
    "Bundle": Bundle,
    "Patient": Patient,
}


class XmlRefused(Exception):
    """The body is not FHIR XML flowsight reads; `status` is 400 (not XML, or not the resource
    type), 413 (too many Bundle entries) or 422 (fhir.resources refused the structure)."""

    def __init__(self, status: int, rejected: Rejected, issues: Sequence[Issue] = ()) -> None:
        super().__init__(rejected.message)
        self.status = status
        self.rejected = rejected
        self.issues = list(issues)  # one per fault, by element (422)


def safe_parser() -> etree.XMLParser:
    """An lxml parser that resolves no entity, loads no DTD and fetches nothing.

    It drops comments and processing instructions: they are no part of a resource (FHIR R4,
    XML representation), and fhir.resources would read a comment before `<id>` as the id's
    extension and refuse the resource (NHS England's BaRS examples open `<Encounter>
    <!-- Senders Encounter -->`)."""
    return etree.XMLParser(
        resolve_entities=False,
        load_dtd=False,
        dtd_validation=False,
        no_network=True,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def _in_words(said: str) -> str:
    """libxml2's message for a sender: where it stopped kept, its advice to whoever runs the
    parser ("use XML_PARSE_HUGE option") and the parser's name for the body left out."""
    said = said.replace(", use XML_PARSE_HUGE option", "")
    return re.sub(r" \(<string>, line \d+\)$", "", said)


def resource_from_xml(body: bytes, resource_type: str, max_entries: int) -> dict[str, Any]:
    """The `resource_type` (Encounter, Bundle or Patient) of an XML body, as FHIR JSON; XmlRefused if not.

    A Bundle's entries are counted before any of them is read into a model.
    """
    try:
        root = etree.fromstring(body, parser=safe_parser())
    except etree.XMLSyntaxError as error:
        message = f"the body is not XML: {_in_words(str(error))}"
        raise XmlRefused(400, Rejected(INVALID_FHIR, "", message)) from None
    if root.getroottree().docinfo.doctype:
        message = "FHIR XML must not declare a DOCTYPE (entities and DTDs are not read)"
        raise XmlRefused(400, Rejected(INVALID_FHIR, "", message))
    found = etree.QName(root)
    if found.namespace != _FHIR_NAMESPACE or found.localname != resource_type:
        message = (
            f"expected a {resource_type} resource in the FHIR namespace {_FHIR_NAMESPACE}, "
            f"got {found.localname} in {found.namespace or 'no namespace'}"
        )
        raise XmlRefused(400, Rejected(INVALID_FHIR, "resourceType", message))
    entries = len(root.findall(f"{{{_FHIR_NAMESPACE}}}entry"))
    if entries > max_entries:
        message = f"the Bundle has {entries} entries; send at most {max_entries}"
        raise XmlRefused(413, Rejected(INVALID_FHIR, "Bundle.entry", message))
    if resource_type == "Bundle":
        return _bundle(root, body)
    return _read(_MODELS[resource_type], body, resource_type)


def _read(model: Any, body: bytes, where: str) -> dict[str, Any]:
    """The resource `model` reads from `body`, as FHIR JSON; XmlRefused (422) naming each fault
    by its element under `where` (`xml_faults`)."""
    try:
        resource = model.model_validate_xml(body, xmlparser=safe_parser())
    except Exception as invalid:  # fhir.resources raises ValidationError, KeyError, ValueError
        root = etree.fromstring(body, parser=safe_parser())
        issues = faults(root, model, where, safe_parser()) or structure_issues(invalid, where)
        first = issues[0]
        rejected = Rejected(INVALID_FHIR, first.expression or where, first.diagnostics)
        raise XmlRefused(422, rejected, issues) from None
    document: dict[str, Any] = resource.model_dump(mode="json")
    return document


def _bundle(root: Any, body: bytes) -> dict[str, Any]:
    """A Bundle read entry by entry, as its JSON twin is: the envelope, then each entry's
    resource by its own type. An Encounter, Patient or Location that is not valid FHIR refuses
    the Bundle, naming its entry (they are mapped, or read when an Encounter refers to them);
    any other resource that is not is kept as its type and id only, and ignored as in JSON (an
    Observation or Condition beside the Encounter is not flowsight's to judge, and R4B's models
    refuse some valid R4 resources)."""
    resources: list[tuple[str, bytes, dict[str, str]] | None] = []
    for entry in root.findall(f"{{{_FHIR_NAMESPACE}}}entry"):
        holder = entry.find(f"{{{_FHIR_NAMESPACE}}}resource")
        element = holder[0] if holder is not None and len(holder) else None
        if element is None or not isinstance(element.tag, str):
            resources.append(None)
        else:  # written out while in the Bundle, so it keeps the FHIR namespace as the default
            kind = etree.QName(element).localname
            resources.append((kind, etree.tostring(element, with_tail=False), _id_of(element)))
        if holder is not None:
            entry.remove(holder)
    document = _read(Bundle, etree.tostring(root), "Bundle")
    entries = document.get("entry") or []
    if len(entries) != len(resources):  # an entry the envelope's model dropped: read it whole
        return _read(Bundle, body, "Bundle")
    for index, (entry, resource) in enumerate(zip(entries, resources, strict=True)):
        if resource is None:
            continue
        kind, xml, logical_id = resource
        where = f"Bundle.entry[{index}].resource"
        try:
            entry["resource"] = _read(_model_of(kind, where), xml, where)
        except XmlRefused:
            if kind in _MODELS or kind == "Location":  # mapped, or read when referred to
                raise
            entry["resource"] = {"resourceType": kind, **logical_id}
    return document


def _model_of(kind: str, where: str) -> Any:
    try:
        return get_fhir_model_class(kind)
    except ValueError:
        message = f"{where}: no resource type {kind[:40]!r} in FHIR R4"
        raise XmlRefused(422, Rejected(INVALID_FHIR, where, message)) from None


def _id_of(element: Any) -> dict[str, str]:
    found = element.find(f"{{{_FHIR_NAMESPACE}}}id")
    value = found.get("value") if found is not None else None
    return {"id": value} if value else {}


def root_type(body: bytes) -> str | None:
    """The resource type an XML body's root names, if it is FHIR XML without a DOCTYPE."""
    try:
        root = etree.fromstring(body, parser=safe_parser())
    except etree.XMLSyntaxError:
        return None
    found = etree.QName(root)
    if root.getroottree().docinfo.doctype or found.namespace != _FHIR_NAMESPACE:
        return None
    return str(found.localname)
