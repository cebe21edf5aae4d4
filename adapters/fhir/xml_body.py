"""FHIR XML (`application/fhir+xml`, as UK Core publishes its examples) read safely.

fhir.resources reads FHIR XML through lxml (`model_validate_xml`, its `[xml]` extra); it is given a
parser that never resolves an entity, loads a DTD or touches the network, and a document that
declares a DOCTYPE at all is refused before anything is read from it (FHIR XML never has one;
it is how entity-expansion and external-entity attacks arrive). The resource is turned into the
FHIR JSON shape the rest of the gateway reads, so both formats follow one path. No I/O.
"""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.encounter import Encounter
from fhir.resources.R4B.patient import Patient
from lxml import etree

from flowsight.adapters.fhir.elements import INVALID_FHIR, problems
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

    def __init__(self, status: int, rejected: Rejected) -> None:
        super().__init__(rejected.message)
        self.status = status
        self.rejected = rejected


def safe_parser() -> etree.XMLParser:
    """An lxml parser that resolves no entity, loads no DTD and fetches nothing."""
    return etree.XMLParser(
        resolve_entities=False,
        load_dtd=False,
        dtd_validation=False,
        no_network=True,
        huge_tree=False,
    )


def resource_from_xml(body: bytes, resource_type: str, max_entries: int) -> dict[str, Any]:
    """The `resource_type` (Encounter, Bundle or Patient) of an XML body, as FHIR JSON; XmlRefused if not.

    A Bundle's entries are counted before any of them is read into a model.
    """
    try:
        root = etree.fromstring(body, parser=safe_parser())
    except etree.XMLSyntaxError as error:
        raise XmlRefused(400, Rejected(INVALID_FHIR, "", f"the body is not XML: {error}")) from None
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
    try:
        resource = _MODELS[resource_type].model_validate_xml(body, xmlparser=safe_parser())
    except Exception as invalid:  # fhir.resources raises ValidationError, KeyError, ValueError
        message = f"{resource_type}: not valid FHIR R4 XML: {problems(invalid)[:600]}"
        raise XmlRefused(422, Rejected(INVALID_FHIR, resource_type, message)) from None
    document: dict[str, Any] = resource.model_dump(mode="json")
    return document


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
