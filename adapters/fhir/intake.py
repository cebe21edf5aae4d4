"""Reading what a FHIR client posted: an Encounter, or a transaction Bundle of them, within bounds.

Resources are checked with fhir.resources (R4B models), mapped to contract v1 events by
`mapping`, and validated like any event. Each step returns what it read or the `outcome.Answer`
to give instead (a 400, 413 or 422 OperationOutcome, with what to dead-letter). No I/O: the
HTTP edge reads the body and writes to Kafka.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import orjson
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.encounter import Encounter
from pydantic import ValidationError

from flowsight.adapters.fhir.mapping import INVALID_FHIR, UNSUPPORTED_ENCOUNTER, encounter_events
from flowsight.adapters.fhir.outcome import (
    AcceptedEvent,
    Answer,
    Issue,
    error,
    refused,
    refused_all,
)
from flowsight.services.validation import (
    MALFORMED_JSON,
    MISSING_FIELD,
    SOURCE_MISMATCH,
    Rejected,
    ValidationContext,
    validate_document,
)

log = logging.getLogger("flowsight.api")

#: Most Encounters one Bundle may carry (setting `fhir_bundle_max` once the lead adds it).
FHIR_BUNDLE_MAX = 500
#: Largest request body read, in bytes (setting `fhir_body_max_bytes`).
FHIR_BODY_MAX_BYTES = 1_000_000

#: The organisation an event is checked against, from its source and the caller's organisations.
OrganisationOf = Callable[[object, frozenset[str]], str]

_Resource = TypeVar("_Resource", Encounter, Bundle)


def too_large() -> Answer:
    """The 413 for a body over FHIR_BODY_MAX_BYTES."""
    return error(413, "too-long", f"the body is over {FHIR_BODY_MAX_BYTES} bytes")


def resource_of(body: bytes, resource_type: str) -> dict[str, Any] | Answer:
    """The body's JSON object if it is a `resource_type`; else a 400 that dead-letters the body."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as problem:
        rejected = Rejected(MALFORMED_JSON, "", f"the body is not JSON: {problem}")
    else:
        found = document.get("resourceType") if isinstance(document, dict) else None
        if found == resource_type:
            assert isinstance(document, dict)
            return document
        message = f"expected a {resource_type} resource, got {found or 'no resourceType'}"
        rejected = Rejected(INVALID_FHIR, "resourceType", message)
    issue = Issue("error", "structure", rejected.message, resource_type, rejected.reason)
    return Answer(400, [issue], [(body, rejected)])


def examine_encounter(
    document: dict[str, Any],
    body: bytes,
    organisations: frozenset[str],
    context: ValidationContext,
    now: datetime,
    organisation_of: OrganisationOf,
) -> list[AcceptedEvent] | Answer:
    """The events a posted Encounter becomes, or a 422 saying why it cannot become any."""
    return _examine(document, body, "Encounter", organisations, context, now, organisation_of)


def examine_bundle(
    document: dict[str, Any],
    body: bytes,
    organisations: frozenset[str],
    context: ValidationContext,
    now: datetime,
    organisation_of: OrganisationOf,
) -> list[AcceptedEvent] | Answer:
    """The events of every entry of a posted Bundle, or the answer naming every refused one.

    A transaction is all or nothing: no entry is published when any is refused.
    """
    entries = _bundle_entries(document, body)
    if isinstance(entries, Answer):
        return entries
    accepted: list[AcceptedEvent] = []
    refusals: list[Answer] = []
    for index, entry in enumerate(entries):
        prefix = f"Bundle.entry[{index}].resource"
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict) or resource.get("resourceType") != "Encounter":
            kind = resource.get("resourceType") if isinstance(resource, dict) else None
            message = f"{prefix} must be an Encounter, not {kind or 'missing'}"
            rejected = Rejected(UNSUPPORTED_ENCOUNTER, "Encounter", message)
            refusals.append(refused(orjson.dumps(entry), rejected, prefix))
            continue
        raw = orjson.dumps(resource)
        examined = _examine(resource, raw, prefix, organisations, context, now, organisation_of)
        if isinstance(examined, Answer):
            refusals.append(examined)
        else:
            accepted.extend(examined)
    return refused_all(refusals) if refusals else accepted


def _bundle_entries(document: dict[str, Any], body: bytes) -> list[Any] | Answer:
    """The entries of a transaction Bundle whose envelope is valid; a 422 or 413 otherwise."""
    entries = document.get("entry")
    # The envelope is checked without the resources, which are checked one by one as Encounters.
    shell = dict(document)
    if isinstance(entries, list):
        shell["entry"] = [_without_resource(entry) for entry in entries]
    _, issues = _parsed(Bundle, shell, "Bundle")
    if not issues and document.get("type") != "transaction":
        message = f"Bundle.type must be transaction, not {document.get('type')!r}"
        issues = [Issue("error", "not-supported", message, "Bundle.type", UNSUPPORTED_ENCOUNTER)]
    if not issues and not entries:
        issues = [
            Issue("error", "required", "the Bundle has no entries", "Bundle.entry", MISSING_FIELD)
        ]
    if issues:
        first = issues[0]
        rejected = Rejected(first.reason or INVALID_FHIR, first.expression or "", first.diagnostics)
        return Answer(422, issues, [(body, rejected)])
    assert isinstance(entries, list)  # checked by the Bundle model above
    if len(entries) > FHIR_BUNDLE_MAX:
        return error(
            413,
            "too-long",
            f"the Bundle has {len(entries)} entries; send at most {FHIR_BUNDLE_MAX}",
            "Bundle.entry",
        )
    return entries


def _examine(
    document: dict[str, Any],
    raw: bytes,
    prefix: str,
    organisations: frozenset[str],
    context: ValidationContext,
    now: datetime,
    organisation_of: OrganisationOf,
) -> list[AcceptedEvent] | Answer:
    """The events an Encounter at `prefix` becomes, or a 422 saying why it cannot become any."""
    encounter, issues = _parsed(Encounter, document, prefix)
    if encounter is None:
        first = issues[0]
        rejected = Rejected(INVALID_FHIR, _relative(first.expression), first.diagnostics)
        return Answer(422, issues, [(raw, rejected)])
    hint = next(iter(organisations)) if len(organisations) == 1 else None
    mapped = encounter_events(encounter, organisation=hint, now=now, front_door=context.front_door)
    if isinstance(mapped, Rejected):
        return refused(raw, mapped, prefix)
    events = []
    for item in mapped:
        source = item.event["source"]
        organisation = organisation_of(source, organisations)
        checked = validate_document(item.event, organisation=organisation, context=context, now=now)
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
    return events


def _without_resource(entry: object) -> object:
    if isinstance(entry, dict):
        return {name: value for name, value in entry.items() if name != "resource"}
    return entry


def _parsed(
    model: type[_Resource], document: Any, prefix: str
) -> tuple[_Resource | None, list[Issue]]:
    """The resource fhir.resources makes of `document`, or one issue per error it finds."""
    try:
        return model.model_validate(document), []
    except ValidationError as invalid:
        return None, [
            Issue(
                "error",
                "required" if "missing" in e["type"] else "structure",
                f"{_path(prefix, e['loc'])}: {str(e['msg']).removeprefix('Value error, ')}",
                _path(prefix, e["loc"]),
                INVALID_FHIR,
            )
            for e in invalid.errors()
        ]
    except Exception as unknown:  # fhir.resources raises KeyError on unknown resource types
        log.info("fhir.resources refused a %s: %r", prefix, unknown)
        message = f"{prefix}: not valid FHIR ({unknown!r})"
        return None, [Issue("error", "structure", message, prefix, INVALID_FHIR)]


def _path(prefix: str, location: tuple[int | str, ...]) -> str:
    path = prefix
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part == "resource_type":
            path += ".resourceType"
        elif part != "root":  # fhir.resources' marker for "the element itself"
            path += f".{part}"
    return path


def _relative(expression: str | None) -> str:
    """An expression within the refused resource itself, as its dead letter's `error.field`."""
    if expression is None:
        return "Encounter"
    head, _, rest = expression.partition(".resource")
    return f"Encounter{rest}" if head.startswith("Bundle.entry[") else expression
