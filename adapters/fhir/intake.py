"""Reading what a FHIR client posted: an Encounter, or a transaction Bundle or a FHIR message of
them, within bounds.

Resources arrive as FHIR JSON or FHIR XML (`xml_body`), are checked with fhir.resources (R4B
models), mapped to contract v1 events by `mapping` through the sender's mapping profile, and
validated like any event. Each step returns what it read or the `outcome.Answer` to give instead
(a 400, 413 or 422 OperationOutcome, with what to dead-letter). No I/O: the HTTP edge reads the
body and writes to Kafka; `flowsight fhir check` reads files.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from fhir.resources.R4B.encounter import Encounter

from flowsight.adapters.fhir.envelope import (
    FHIR_BUNDLE_MAX,
    a_bars_assessment,
    bars_message,
    bundle_entries,
    ignored,
    message_focus,
    message_header,
    not_the_focus,
    parsed,
)
from flowsight.adapters.fhir.mapping import INVALID_FHIR, UNSUPPORTED_ENCOUNTER, map_encounter
from flowsight.adapters.fhir.outcome import (
    AcceptedEvent,
    Answer,
    Envelope,
    Examined,
    Issue,
    error,
    refused,
    refused_all,
    within,
)
from flowsight.adapters.fhir.references import NO_BUNDLE, BundleIndex
from flowsight.adapters.fhir.strict import unreadable
from flowsight.adapters.fhir.versions import hinted, with_hint, xml_stu3_sign
from flowsight.adapters.fhir.xml_body import XmlRefused, resource_from_xml
from flowsight.adapters.profile import MappingProfile
from flowsight.schemas import strict_json
from flowsight.services.validation import (
    MALFORMED_JSON,
    SOURCE_MISMATCH,
    Rejected,
    ValidationContext,
    validate_document,
)

#: Largest request body read, in bytes (setting `fhir_body_max_bytes`).
FHIR_BODY_MAX_BYTES = 1_000_000
#: Deepest nesting of objects and arrays read in a JSON body. A real Encounter in a transaction
#: Bundle is about a dozen levels deep; past this a body is refused at the door, before any
#: step that re-encodes it (orjson stops at 255 levels, the standard library's reader near 1,000).
FHIR_MAX_DEPTH = 64

#: The organisation an event is checked against, from its source and the caller's organisations.
OrganisationOf = Callable[[object, frozenset[str]], str]


def too_large() -> Answer:
    """The 413 for a body over FHIR_BODY_MAX_BYTES."""
    return error(413, "too-long", f"the body is over {FHIR_BODY_MAX_BYTES} bytes")


def is_xml(content_type: str | None) -> bool:
    """Whether a request's Content-Type says FHIR XML: `application/fhir+xml`, `.../xml`, or
    DSTU2's `application/xml+fhir`, which older systems still send."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media.endswith(("/xml", "+xml")) or media == "application/xml+fhir"


def resource_of(body: bytes, resource_type: str, xml: bool = False) -> dict[str, Any] | Answer:
    """The body's resource (FHIR JSON, or FHIR XML when `xml`) if it is a `resource_type`;
    else a 400 (413 for an XML Bundle over FHIR_BUNDLE_MAX entries) that dead-letters the body."""
    if xml:
        try:
            document: object = resource_from_xml(body, resource_type, FHIR_BUNDLE_MAX)
        except XmlRefused as refusal:
            if refusal.status == 413:
                return error(413, "too-long", refusal.rejected.message, "Bundle.entry")
            message = refusal.rejected.message
            issues = refusal.issues or [
                Issue("error", "structure", message, resource_type, INVALID_FHIR)
            ]
            answer = Answer(refusal.status, issues, [(body, refusal.rejected)])
            return with_hint(answer, xml_stu3_sign(body))
    else:
        try:
            document = strict_json.loads(body)
        except (ValueError, RecursionError) as problem:
            return _bad_body(
                body,
                resource_type,
                MALFORMED_JSON,
                f"the body is not JSON: {strict_json.unreadable(problem)}",
            )
    if _deeper_than(document, FHIR_MAX_DEPTH):
        message = f"the body nests elements more than {FHIR_MAX_DEPTH} levels deep"
        return _bad_body(body, resource_type, INVALID_FHIR, message)
    found = document.get("resourceType") if isinstance(document, dict) else None
    if found != resource_type:
        message = f"expected a {resource_type} resource, got {found or 'no resourceType'}"
        return _bad_body(body, resource_type, INVALID_FHIR, message, "resourceType")
    assert isinstance(document, dict)
    return document


def _bad_body(
    body: bytes, resource_type: str, reason: str, message: str, field: str = ""
) -> Answer:
    """The 400 for a body that is not a resource flowsight can read, dead-lettering it."""
    issue = Issue("error", "structure", message, resource_type, reason)
    return Answer(400, [issue], [(body, Rejected(reason, field, message))])


def _deeper_than(document: object, limit: int) -> bool:
    """Whether `document` nests objects and arrays more than `limit` levels, walked a level at
    a time: a body too deep is exactly one that must not be recursed into."""
    level = [document] if isinstance(document, dict | list) else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return True
        level = [
            child
            for node in level
            for child in (node.values() if isinstance(node, dict) else node)
            if isinstance(child, dict | list)
        ]
    return False


@dataclass(frozen=True, slots=True)
class Reading:
    """What posted resources are read against: the caller's organisations, the validation
    context, the time, how an event's organisation is told, and each sender's mapping profile."""

    organisations: frozenset[str]
    context: ValidationContext
    now: datetime
    organisation_of: OrganisationOf
    profiles: Mapping[str, MappingProfile] = field(default_factory=dict)


def examine_encounter(document: dict[str, Any], body: bytes, reading: Reading) -> Examined | Answer:
    """The events a posted Encounter becomes, or a 422 saying why it cannot become any."""
    return hinted(document, _examine(document, body, "Encounter", reading, NO_BUNDLE))


def examine_bundle(document: dict[str, Any], body: bytes, reading: Reading) -> Examined | Answer:
    """The events of every Encounter of a posted transaction Bundle, or the answer naming every
    refused one. A transaction is all or nothing: no entry is published when any is refused.

    Other entries (a Patient, a Condition, a request without a resource) are not mapped and not
    a failure; the answer says each was ignored. A Patient is read when an Encounter's subject
    refers to it.
    """
    return hinted(document, _examine_bundle(document, body, reading, "transaction"))


def examine_message(document: dict[str, Any], body: bytes, reading: Reading) -> Examined | Answer:
    """The events of a FHIR message (a Bundle of type message, its MessageHeader first, as
    `$process-message` takes it: Da Vinci's admit and discharge notifications): its Encounters
    as a transaction's, all or nothing. The MessageHeader and the resources it carries beside
    them (Patient, Location, Organization, Coverage) are read as a transaction's are. When the
    MessageHeader's focus names what the message is about, an Encounter it does not name is
    not mapped, with a note (`envelope.not_the_focus`): a BaRS referral's is the sender's."""
    return hinted(document, _examine_bundle(document, body, reading, "message"))


def examine_by_type(document: dict[str, Any], body: bytes, reading: Reading) -> Examined | Answer:
    """A Bundle as the endpoint for its type examines it (`flowsight fhir check`): a message as
    `POST /fhir/$process-message`, any other as `POST /fhir`, which takes transactions."""
    examine = examine_message if document.get("type") == "message" else examine_bundle
    return examine(document, body, reading)


def _examine_bundle(
    document: dict[str, Any], body: bytes, reading: Reading, bundle_type: str
) -> Examined | Answer:
    entries = bundle_entries(document, body, bundle_type)
    if isinstance(entries, Answer):
        return entries
    envelope = Envelope(bundle_type, len(entries))
    if bundle_type == "message":
        header = message_header(entries, body)
        if isinstance(header, Answer):
            return header
        envelope = replace(envelope, header=header[0], header_id=header[1])
    bundle = BundleIndex(entries, document.get("timestamp"))
    focus = message_focus(entries, bundle) if bundle_type == "message" else None
    bars = bundle_type == "message" and bars_message(entries)
    accepted: list[AcceptedEvent] = []
    notes: list[Issue] = []
    refusals: list[Answer] = []
    examined_any = False  # an Encounter read (the others ignored or refused)
    identities: dict[str, int] = {}  # each resource's entry
    for index, entry in enumerate(entries):
        prefix = f"Bundle.entry[{index}].resource"
        resource = entry.get("resource") if isinstance(entry, dict) else None
        kind = resource.get("resourceType") if isinstance(resource, dict) else None
        if kind != "Encounter" and (resource is None or isinstance(kind, str)):
            notes.append(replace(ignored(index, entry, kind), entry=index))
            continue
        if not isinstance(resource, dict) or kind is None:
            message = f"{prefix} must be a resource with a resourceType"
            rejected = Rejected(INVALID_FHIR, "Encounter", message)
            refusals.append(refused(_as_json(entry), rejected, prefix))
            continue
        raw = _as_json(resource)
        request = entry.get("request")
        if isinstance(request, dict) and str(request.get("method", "")).upper() == "DELETE":
            message = (
                f"Bundle.entry[{index}] is a DELETE of an Encounter: flowsight publishes nothing "
                "for a delete; retract an Encounter by sending it with status entered-in-error"
            )
            rejected = Rejected(UNSUPPORTED_ENCOUNTER, ".request.method", message)
            refusals.append(refused(raw, rejected, f"Bundle.entry[{index}]"))
            continue
        examined_any = True
        if focus is not None and index not in focus:  # context of what the message is about
            notes.append(replace(not_the_focus(index, focus), entry=index))
            continue
        if bars:  # the focus too: a validation response's names the assessment's Encounter
            notes.append(replace(a_bars_assessment(index), entry=index))
            continue
        examined = _once(entry, index, identities, raw, prefix) or _examine(
            resource, raw, prefix, reading, bundle
        )
        if isinstance(examined, Answer):
            refusals.append(examined)
        else:
            accepted.extend(replace(item, entry=index) for item in examined.events)
            notes.extend(replace(note, entry=index) for note in examined.notes)
    if refusals:
        answer = refused_all(refusals)
        return Answer(answer.status, answer.issues + notes, answer.dead_letters)
    if not accepted:
        said = (
            "its Encounters gave no event (the issues above say why)"
            if examined_any
            else "no Encounter in the Bundle"
        )
        notes.append(Issue("information", "informational", f"{said}: nothing published"))
    return Examined(accepted, notes, envelope)


def _once(
    entry: dict[str, Any], index: int, identities: dict[str, int], raw: bytes, prefix: str
) -> Answer | None:
    """The refusal of an entry that is a resource an earlier entry was (the same `fullUrl`, or
    the same `Encounter/<id>` a PUT names); else None, and its identities are noted. R4's
    transaction rules (http.html#trules) fail a transaction whose resources overlap, and two
    versions of one Encounter in a request (say, discharged and not) cannot both be what
    happened. Business identifiers are not identities: sample data shares them across
    Encounters (microsoft/fhir-server's US Core transaction does)."""
    request = entry.get("request")
    url = request.get("url") if isinstance(request, dict) else None
    # A conditional URL (`Encounter?identifier=...`) names a resource by its whole query.
    named = isinstance(url, str) and ("?" in url or "/" in url)
    for name in (str(name) for name in (entry.get("fullUrl"), url if named else None) if name):
        first = identities.setdefault(name, index)
        if first != index:
            message = (
                f"Bundle.entry[{index}] is the resource Bundle.entry[{first}] is ({name}): a "
                "transaction holds each resource once; send each version of an Encounter in a "
                "request of its own, oldest first"
            )
            return refused(raw, Rejected(INVALID_FHIR, "Encounter", message), prefix)
    return None


def _as_json(value: object) -> bytes:
    """An entry's JSON as its dead letter keeps it. The standard library's writer, as its reader
    read the body: it writes back all it read (orjson refuses a lone surrogate such as `\\ud800`,
    legal in JSON, and integers past 64 bits, and the refusal was a 500 that lost the body)."""
    return json.dumps(value, separators=(",", ":")).encode()


def _examine(
    document: dict[str, Any], raw: bytes, prefix: str, reading: Reading, bundle: BundleIndex
) -> Examined | Answer:
    """The events an Encounter at `prefix` becomes, or a 422 saying why it cannot become any."""
    issues = unreadable(document, prefix)
    if issues:
        first = issues[0]
        reason = first.reason or INVALID_FHIR
        rejected = Rejected(reason, _relative(first.expression), first.diagnostics)
        return Answer(422, issues, [(raw, rejected)])
    encounter, issues = parsed(Encounter, document, prefix)
    if encounter is None:
        first = issues[0]
        rejected = Rejected(INVALID_FHIR, _relative(first.expression), first.diagnostics)
        return Answer(422, issues, [(raw, rejected)])
    organisations, context = reading.organisations, reading.context
    hint = next(iter(organisations)) if len(organisations) == 1 else None
    mapped = map_encounter(
        encounter,
        organisation=hint,
        now=reading.now,
        front_door=context.front_door,
        profiles=reading.profiles,
        services=context.services.keys(),
        bundle=bundle,
        departments=context.departments_of,
        bedded=context.bedded,
    )
    if isinstance(mapped, Rejected):
        return refused(raw, mapped, prefix)
    events = []
    for item in mapped.events:
        source = item.event["source"]
        organisation = reading.organisation_of(source, organisations)
        checked = validate_document(
            item.event, organisation=organisation, context=context, now=reading.now
        )
        if isinstance(checked, Rejected):
            message = checked.message
            if checked.reason == SOURCE_MISMATCH:
                message = (
                    f"serviceProvider {source.split('/')[0]!r} is not an organisation this API "
                    f"key publishes for ({', '.join(sorted(organisations))})"
                )
            label = f"{item.event['event_type']} {item.event['event_id']}"
            element = item.element_of(checked.field)
            return refused(raw, Rejected(checked.reason, element, f"{label}: {message}"), prefix)
        events.append(AcceptedEvent(organisation, item.event, prefix))
    notes = [
        Issue(
            "warning",
            "informational",
            note.message,
            within(prefix, note.element),
        )
        for note in mapped.notes
    ]
    return Examined(events, notes)


def _relative(expression: str | None) -> str:
    """An expression within the refused resource itself, as its dead letter's `error.field`."""
    if expression is None:
        return "Encounter"
    head, _, rest = expression.partition(".resource")
    return f"Encounter{rest}" if head.startswith("Bundle.entry[") else expression
