"""A posted Bundle's envelope, and what fhir.resources says of a resource.

- The envelope: the Bundle's type, the one its endpoint takes (a transaction at `POST /fhir`, a
  message at `POST /fhir/$process-message`), its size, a message's MessageHeader (what its
  response names), and each entry that is not an Encounter, noted as ignored. The entries' resources are examined by `adapters.fhir.intake`.
- `parsed`: the resource fhir.resources makes of a document, or one OperationOutcome issue for
  each error it finds, named by its FHIRPath under the resource's place in the body.
"""

from __future__ import annotations

import logging
import re
from typing import Any, TypeVar

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.encounter import Encounter
from fhir.resources.R4B.messageheader import MessageHeader

from flowsight.adapters.fhir.elements import (
    INVALID_FHIR,
    UNSUPPORTED_ENCOUNTER,
    a_resource,
    plain_system,
)
from flowsight.adapters.fhir.outcome import Answer, Issue, error
from flowsight.adapters.fhir.references import BundleIndex
from flowsight.adapters.fhir.structure import structure_issues
from flowsight.services.validation import MISSING_FIELD, Rejected

log = logging.getLogger("flowsight.api")

#: Most Encounters one Bundle may carry (setting `fhir_bundle_max` once the lead adds it).
FHIR_BUNDLE_MAX = 500
_Resource = TypeVar("_Resource", Encounter, Bundle, MessageHeader)
#: The id a Bundle entry's fullUrl gives its resource: `urn:uuid:<id>`, or a RESTful URL ending
#: `MessageHeader/<id>`.
_NAMED_BY_URL = re.compile(r"(?:urn:uuid:|(?:.*/)?MessageHeader/)([A-Za-z0-9\-.]{1,64})")


def bundle_entries(document: dict[str, Any], body: bytes, kind: str) -> list[Any] | Answer:
    """The entries of a Bundle of type `kind` (transaction, message) whose envelope is valid;
    a 422 or 413 otherwise."""
    entries = document.get("entry")
    if isinstance(entries, list) and len(entries) > FHIR_BUNDLE_MAX:
        return error(
            413,
            "too-long",
            f"the Bundle has {len(entries)} entries; send at most {FHIR_BUNDLE_MAX}",
            "Bundle.entry",
        )
    # The type first: a Bundle of another type (a batch-response, a searchset) is not read, and
    # what is wrong inside it would hide that. Then the envelope without the resources, which
    # are checked one by one as Encounters.
    issues: list[Issue] = []
    if document.get("type") != kind:
        sent = document.get("type")
        goes = _SENT_TO[kind] if sent in _SENT_TO else _READ
        shown = repr(sent[:40]) if isinstance(sent, str) else "none" if sent is None else "no code"
        message = f"Bundle.type must be {kind}, not {shown}{goes}"
        issues = [Issue("error", "not-supported", message, "Bundle.type", UNSUPPORTED_ENCOUNTER)]
    if not issues:
        shell = dict(document)
        if isinstance(entries, list):
            shell["entry"] = [_without_resource(entry) for entry in entries]
        _, issues = parsed(Bundle, shell, "Bundle")
    # A transaction may have no entries (FHIR R4 allows it: a feed's run with nothing to send);
    # a message may not, its first entry being its MessageHeader.
    if not issues and not entries and kind == "message":
        issues = [
            Issue("error", "required", "the Bundle has no entries", "Bundle.entry", MISSING_FIELD)
        ]
    if not issues and kind == "message" and _first_type(entries) != "MessageHeader":
        message = "a FHIR message's first entry must be its MessageHeader"
        issues = [Issue("error", "invalid", message, "Bundle.entry[0].resource", INVALID_FHIR)]
    if issues:
        first = issues[0]
        rejected = Rejected(first.reason or INVALID_FHIR, first.expression or "", first.diagnostics)
        return Answer(422, issues, [(body, rejected)])
    assert entries is None or isinstance(entries, list)  # checked by the Bundle model above
    return entries or []


#: Where a Bundle of the other type goes, said when one comes to the wrong endpoint.
_SENT_TO = {
    "transaction": " (a FHIR message goes to POST /fhir/$process-message)",
    "message": " (a transaction goes to POST /fhir)",
}
#: What is said of a Bundle of any other type (history, document, batch, ...).
_READ = (
    " (flowsight reads Encounters from a transaction at POST /fhir and a message at POST "
    "/fhir/$process-message)"
)


def _first_type(entries: object) -> object:
    first = entries[0] if isinstance(entries, list) and entries else None
    resource = first.get("resource") if isinstance(first, dict) else None
    return resource.get("resourceType") if isinstance(resource, dict) else None


def message_header(entries: list[Any], body: bytes) -> tuple[dict[str, Any], str] | Answer:
    """A FHIR message's MessageHeader and the id its response names it by, or a 422.

    The response message copies the header's event, answers its source and names it
    (`MessageHeader.response.identifier`), so the header must be valid R4 and have an id: its
    own, else the one its entry's fullUrl gives it (NHS England's BaRS examples give only a
    `urn:uuid:` fullUrl).
    """
    entry = entries[0]
    prefix = "Bundle.entry[0].resource"
    header, issues = parsed(MessageHeader, entry.get("resource"), prefix)
    if header is None:
        first = issues[0]
        rejected = Rejected(INVALID_FHIR, first.expression or prefix, first.diagnostics)
        return Answer(422, issues, [(body, rejected)])
    named = _NAMED_BY_URL.fullmatch(str(entry.get("fullUrl", "")))
    identity = header.id or (named.group(1) if named else None)
    if identity is None:
        message = (
            "a FHIR message's MessageHeader needs an id (or a fullUrl urn:uuid:<id>): "
            "its response names it in MessageHeader.response.identifier"
        )
        expression = f"{prefix}.id"
        issue = Issue("error", "required", message, expression, MISSING_FIELD)
        return Answer(422, [issue], [(body, Rejected(MISSING_FIELD, expression, message))])
    return entry["resource"], identity


def message_focus(entries: list[Any], bundle: BundleIndex) -> dict[int, str] | None:
    """The entries a FHIR message's MessageHeader `focus` names (index: resource type), when it
    names any: what the message is about. None for a header without a focus."""
    header = entries[0].get("resource") if entries and isinstance(entries[0], dict) else None
    focus = header.get("focus") if isinstance(header, dict) else None
    if not isinstance(focus, list) or not focus:
        return None
    named: dict[int, str] = {}
    for reference in focus:
        target = reference.get("reference") if isinstance(reference, dict) else None
        found = bundle.find(target) if isinstance(target, str) else None
        if found is not None:
            named[found[0]] = str(found[1].get("resourceType"))
    return named


#: The event codes of NHS England's Booking and Referral Standard (BaRS) messages.
BARS_EVENTS = "https://fhir.nhs.uk/CodeSystem/message-events-bars"


def bars_message(entries: list[Any]) -> bool:
    """Whether a FHIR message is one of BaRS: a referral, a validation request or response, a
    booking between 111, 999, clinical assessment services and EDs (its MessageHeader's
    `eventCoding` of `BARS_EVENTS`). Every Encounter such a message carries is an urgent-care
    service's assessment of a call (the sender's, or the assessment service's own, which a
    validation response's focus names), never a stay or an attendance at a hospital."""
    header = entries[0].get("resource") if entries and isinstance(entries[0], dict) else None
    event = header.get("eventCoding") if isinstance(header, dict) else None
    system = event.get("system") if isinstance(event, dict) else None
    return isinstance(system, str) and plain_system(system) == plain_system(BARS_EVENTS)


def a_bars_assessment(index: int) -> Issue:
    """The note that a BaRS message's Encounter was not mapped (`bars_message`)."""
    return Issue(
        "information",
        "informational",
        f"Bundle.entry[{index}] is an Encounter of a Booking and Referral Standard (BaRS) "
        "message: an urgent-care service's assessment of a call (111, 999, a clinical "
        "assessment service), not a stay or an attendance at a hospital: not mapped. Publish "
        "the attendance once the patient arrives, and a referral to POST /v1/events",
        f"Bundle.entry[{index}]",
    )


def not_the_focus(index: int, focus: dict[int, str]) -> Issue:
    """The note that a message's Encounter was not mapped, the message being about another
    resource: NHS England's Booking and Referral Standard (BaRS) sends the sender's 111 or 999
    assessment Encounter beside the ServiceRequest the referral is. That Encounter is no stay
    or attendance at the receiver, and flowsight makes no referral from FHIR."""
    about = ", ".join(
        f"Bundle.entry[{i}] ({a_resource(kind)})" for i, kind in sorted(focus.items())
    )
    return Issue(
        "information",
        "informational",
        f"Bundle.entry[{index}] is an Encounter the MessageHeader's focus does not name: the "
        f"message is about {about or 'no resource in the Bundle'}, and its Encounter is the "
        "context of it (a referral's Encounter is the sender's assessment), not a stay or an "
        "attendance at the receiver: not mapped. flowsight makes no referral from FHIR: publish "
        "the referral to POST /v1/events",
        f"Bundle.entry[{index}]",
    )


def ignored(index: int, entry: object, kind: object) -> Issue:
    """The note that a Bundle entry other than an Encounter was not mapped."""
    request = entry.get("request") if isinstance(entry, dict) else None
    method, url = (
        (request.get("method"), request.get("url")) if isinstance(request, dict) else (None, None)
    )
    if kind is None:
        if isinstance(url, str) and url.startswith("Encounter"):
            return Issue(
                "warning",
                "not-supported",
                f"Bundle.entry[{index}] ({method} {url}) ignored: an Encounter is retracted by "
                "sending it with status entered-in-error, not by a request without a resource",
                f"Bundle.entry[{index}].request",
            )
        what = f"a {method} {url} request without a resource" if method else "an empty entry"
    else:
        what = a_resource(kind)
    why = _READ_FOR.get(str(kind), "flowsight maps Encounters")
    return Issue(
        "information",
        "informational",
        f"Bundle.entry[{index}] is {what}: not mapped on its own ({why})",
        f"Bundle.entry[{index}]",
    )


#: What an entry of these types is read for, beside the Encounters of its Bundle.
_READ_FOR = {
    "Patient": "read as the subject of an Encounter that refers to it",
    "Location": "read as the place an Encounter's location refers to",
    "Organization": "read as the serviceProvider of an Encounter that refers to it",
}


def _without_resource(entry: object) -> object:
    if isinstance(entry, dict):
        return {name: value for name, value in entry.items() if name != "resource"}
    return entry


def parsed(
    model: type[_Resource], document: Any, prefix: str
) -> tuple[_Resource | None, list[Issue]]:
    """The resource fhir.resources makes of `document`, or one issue per error it finds."""
    try:
        return model.model_validate(document), []
    except Exception as invalid:  # fhir.resources raises KeyError on unknown resource types
        log.info("fhir.resources refused a %s: %s", prefix, type(invalid).__name__)
        return None, structure_issues(invalid, prefix)
