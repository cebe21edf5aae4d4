"""The FHIR R4 gateway: `POST /fhir/Encounter`, and transaction Bundles of them at `POST /fhir`.

Encounters are checked with fhir.resources (R4B models), mapped to contract v1 events by
flowsight.adapters.fhir.mapping, validated like any event, and written to the ingest topic.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import orjson
from fastapi import APIRouter, Request, Response
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.encounter import Encounter
from fhir.resources.R4B.operationoutcome import OperationOutcome
from pydantic import ValidationError

from flowsight.adapters.fhir.mapping import (
    INVALID_FHIR,
    MISSING_FIELD,
    UNSUPPORTED_ENCOUNTER,
    MappingProblem,
    encounter_events,
)
from flowsight.api.deps import (
    EventWriter,
    KafkaUnavailable,
    PresentedKey,
    StateDep,
    WriterDep,
    organisation_for,
    publisher_organisations,
)
from flowsight.api.routers.events import RETRY_AFTER_SECONDS, BodyTooLarge, read_body
from flowsight.services.validation import (
    IN_THE_FUTURE,
    MALFORMED_JSON,
    SERVICE_NOT_OWNED,
    SOURCE_MISMATCH,
    UNKNOWN_SERVICE,
    Rejected,
    ValidationContext,
    validate_document,
)

log = logging.getLogger("flowsight.api")

FHIR_JSON = "application/fhir+json"
#: Most Encounters one Bundle may carry (setting `fhir_bundle_max` once the lead adds it).
FHIR_BUNDLE_MAX = 500
#: Largest request body read, in bytes (setting `fhir_body_max_bytes`).
FHIR_BODY_MAX_BYTES = 1_000_000
GATEWAY = "fhir"
#: The code system of the dead-letter reason an error issue carries in `details`.
REASON_SYSTEM = "urn:flowsight:dead-letter-reason"

#: OperationOutcome issue type (http://hl7.org/fhir/issue-type) for each dead-letter reason.
ISSUE_TYPES = {
    MALFORMED_JSON: "structure",
    INVALID_FHIR: "structure",
    MISSING_FIELD: "required",
    UNSUPPORTED_ENCOUNTER: "not-supported",
    UNKNOWN_SERVICE: "code-invalid",
    SOURCE_MISMATCH: "business-rule",
    SERVICE_NOT_OWNED: "business-rule",
    IN_THE_FUTURE: "business-rule",
}

router = APIRouter(prefix="/fhir", tags=["fhir"])

_Resource = TypeVar("_Resource", Encounter, Bundle)

_ROUTE: dict[str, Any] = {
    "status_code": 202,
    "response_class": Response,
    "responses": {
        202: {"content": {FHIR_JSON: {}}, "description": "OperationOutcome, information"},
        400: {"description": "not JSON, or not the resource type (OperationOutcome)"},
        403: {"description": "the API key has no publisher:<ORG> role (OperationOutcome)"},
        413: {"description": "body or Bundle larger than the gateway takes (OperationOutcome)"},
        422: {"description": "refused; one issue per problem, dead-lettered (OperationOutcome)"},
        503: {"description": "Kafka did not acknowledge; retry (OperationOutcome)"},
    },
    "openapi_extra": {
        "requestBody": {
            "required": True,
            "content": {FHIR_JSON: {"schema": {"type": "object"}}, "application/json": {}},
        }
    },
}


@dataclass(frozen=True, slots=True)
class Issue:
    """One OperationOutcome.issue."""

    severity: str
    code: str
    diagnostics: str
    expression: str | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Accepted:
    """An event an Encounter became, the organisation it is published for, and where it came from."""

    organisation: str
    event: dict[str, Any]
    expression: str


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a resource was refused: its issues, and the dead letter's reason, field and message."""

    issues: list[Issue]
    reason: str
    field: str
    message: str


class _Answer(Exception):
    """A finished answer (an OperationOutcome) raised out of the request's checks."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def outcome(status: int, issues: list[Issue]) -> Response:
    """An OperationOutcome response, built and checked by fhir.resources."""
    resource = OperationOutcome.model_validate(
        {
            "resourceType": "OperationOutcome",
            "issue": [
                {
                    "severity": issue.severity,
                    "code": issue.code,
                    "diagnostics": issue.diagnostics,
                    **({"expression": [issue.expression]} if issue.expression else {}),
                    **(
                        {"details": {"coding": [{"system": REASON_SYSTEM, "code": issue.reason}]}}
                        if issue.reason
                        else {}
                    ),
                }
                for issue in issues
            ],
        }
    )
    return Response(resource.model_dump_json(), status_code=status, media_type=FHIR_JSON)


def _error(status: int, code: str, diagnostics: str, expression: str | None = None) -> _Answer:
    return _Answer(outcome(status, [Issue("error", code, diagnostics, expression)]))


@router.post(
    "/Encounter",
    summary="Publish an Encounter as attendance, admission, transfer, discharge",
    **_ROUTE,
)
async def post_encounter(
    request: Request, state: StateDep, key: PresentedKey, writer: WriterDep
) -> Response:
    """Map one Encounter to events; 202 once Kafka acknowledged them, else an OperationOutcome."""
    try:
        organisations = _publisher(state, key)
        body, document = await _read_resource(request, writer, organisations, "Encounter")
        now = datetime.now(UTC)
        examined = _examine(document, "Encounter", organisations, state.validation, now)
        if isinstance(examined, Refusal):
            await _dead_letter(writer, body, organisations, examined)
            return outcome(422, examined.issues)
        return await _publish(writer, examined)
    except _Answer as answer:
        return answer.response
    except KafkaUnavailable as error:
        return _unavailable(error)


@router.post("", summary="Publish a transaction Bundle of Encounters, all or none", **_ROUTE)
async def post_bundle(
    request: Request, state: StateDep, key: PresentedKey, writer: WriterDep
) -> Response:
    """Map every Encounter of a transaction Bundle; publish them all, or none and say why."""
    try:
        organisations = _publisher(state, key)
        body, document = await _read_resource(request, writer, organisations, "Bundle")
        entries = await _bundle_entries(document, body, writer, organisations)
        now = datetime.now(UTC)
        accepted: list[Accepted] = []
        refused: list[tuple[bytes, Refusal]] = []
        for index, entry in enumerate(entries):
            prefix = f"Bundle.entry[{index}].resource"
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if not isinstance(resource, dict) or resource.get("resourceType") != "Encounter":
                kind = resource.get("resourceType") if isinstance(resource, dict) else None
                message = f"{prefix} must be an Encounter, not {kind or 'missing'}"
                issue = Issue("error", "not-supported", message, prefix, UNSUPPORTED_ENCOUNTER)
                refusal = Refusal([issue], UNSUPPORTED_ENCOUNTER, "Encounter", message)
                refused.append((orjson.dumps(entry), refusal))
                continue
            examined = _examine(resource, prefix, organisations, state.validation, now)
            if isinstance(examined, Refusal):
                refused.append((orjson.dumps(resource), examined))
            else:
                accepted.extend(examined)
        if refused:
            # A transaction is all or nothing: no entry is published when any is refused.
            for raw, refusal in refused:
                await _dead_letter(writer, raw, organisations, refusal)
            issues = [issue for _, refusal in refused for issue in refusal.issues]
            return outcome(422, issues)
        return await _publish(writer, accepted)
    except _Answer as answer:
        return answer.response
    except KafkaUnavailable as error:
        return _unavailable(error)


def _publisher(state: StateDep, key: str | None) -> frozenset[str]:
    principal = state.authenticator.principal(key)
    if principal is None:
        raise _error(
            401,
            "login",
            "an API key is required (Authorization: Bearer <key> or X-API-Key)"
            if key is None
            else "the API key is not recognised",
        )
    organisations = publisher_organisations(principal)
    if not organisations:
        raise _error(
            403,
            "forbidden",
            f"API key {principal.name!r} has no publisher:<ORG> role, so it may not publish",
        )
    return organisations


async def _read_resource(
    request: Request, writer: EventWriter, organisations: frozenset[str], resource_type: str
) -> tuple[bytes, dict[str, Any]]:
    """The body and its JSON object; 413 when too large, 400 (dead-lettered) when unparseable."""
    try:
        body = await read_body(request, FHIR_BODY_MAX_BYTES)
    except BodyTooLarge:
        raise _error(413, "too-long", f"the body is over {FHIR_BODY_MAX_BYTES} bytes") from None
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as error:
        message = f"the body is not JSON: {error}"
        refusal = Refusal([], MALFORMED_JSON, "", message)
    else:
        found = document.get("resourceType") if isinstance(document, dict) else None
        if found == resource_type:
            return body, document
        message = f"expected a {resource_type} resource, got {found or 'no resourceType'}"
        refusal = Refusal([], INVALID_FHIR, "resourceType", message)
    await _dead_letter(writer, body, organisations, refusal)
    raise _Answer(
        outcome(400, [Issue("error", "structure", message, resource_type, refusal.reason)])
    )


async def _bundle_entries(
    document: dict[str, Any], body: bytes, writer: EventWriter, organisations: frozenset[str]
) -> list[Any]:
    """The entries of a transaction Bundle whose envelope is valid; 4xx answers otherwise."""
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
        await _dead_letter(
            writer,
            body,
            organisations,
            Refusal(
                issues, first.reason or INVALID_FHIR, first.expression or "", first.diagnostics
            ),
        )
        raise _Answer(outcome(422, issues))
    assert isinstance(entries, list)  # checked by the Bundle model above
    if len(entries) > FHIR_BUNDLE_MAX:
        raise _error(
            413,
            "too-long",
            f"the Bundle has {len(entries)} entries; send at most {FHIR_BUNDLE_MAX}",
            "Bundle.entry",
        )
    return entries


def _without_resource(entry: object) -> object:
    if isinstance(entry, dict):
        return {name: value for name, value in entry.items() if name != "resource"}
    return entry


def _examine(
    document: dict[str, Any],
    prefix: str,
    organisations: frozenset[str],
    context: ValidationContext,
    now: datetime,
) -> list[Accepted] | Refusal:
    """The events an Encounter becomes, or why it cannot become any."""
    encounter, issues = _parsed(Encounter, document, prefix)
    if encounter is None:
        return Refusal(issues, INVALID_FHIR, _relative(issues[0].expression), issues[0].diagnostics)
    hint = next(iter(organisations)) if len(organisations) == 1 else None
    mapped = encounter_events(encounter, organisation=hint, now=now, front_door=context.front_door)
    if isinstance(mapped, MappingProblem):
        return _refusal(mapped.reason, mapped.element, mapped.message, prefix)
    events = []
    for item in mapped:
        source = item.event["source"]
        organisation = organisation_for(source, organisations)
        checked = validate_document(item.event, organisation=organisation, context=context, now=now)
        if isinstance(checked, Rejected):
            message = checked.message
            if checked.reason == SOURCE_MISMATCH:
                message = (
                    f"serviceProvider {source.split('/')[0]!r} is not an organisation this API "
                    f"key publishes for ({', '.join(sorted(organisations))})"
                )
            label = f"{item.event['event_type']} {item.event['event_id']}"
            return _refusal(
                checked.reason, item.element_of(checked.field), f"{label}: {message}", prefix
            )
        events.append(Accepted(organisation, item.event, prefix))
    return events


def _parsed(
    model: type[_Resource], document: Any, prefix: str
) -> tuple[_Resource | None, list[Issue]]:
    """The resource fhir.resources makes of `document`, or one issue per error it finds."""
    try:
        return model.model_validate(document), []
    except ValidationError as error:
        return None, [
            Issue(
                "error",
                "required" if "missing" in e["type"] else "structure",
                f"{_path(prefix, e['loc'])}: {str(e['msg']).removeprefix('Value error, ')}",
                _path(prefix, e["loc"]),
                INVALID_FHIR,
            )
            for e in error.errors()
        ]
    except Exception as error:  # fhir.resources raises KeyError on unknown resource types
        log.info("fhir.resources refused a %s: %r", prefix, error)
        message = f"{prefix}: not valid FHIR ({error!r})"
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


def _refusal(reason: str, element: str, message: str, prefix: str) -> Refusal:
    expression = prefix + element.removeprefix("Encounter")
    issue = Issue("error", ISSUE_TYPES.get(reason, "value"), message, expression, reason)
    return Refusal([issue], reason, element, message)


async def _dead_letter(
    writer: EventWriter, raw: bytes, organisations: frozenset[str], refusal: Refusal
) -> None:
    await writer.dead_letter(
        raw,
        organisation=min(organisations),
        gateway=GATEWAY,
        reason=refusal.reason,
        field=refusal.field,
        message=refusal.message,
    )


async def _publish(writer: EventWriter, accepted: list[Accepted]) -> Response:
    by_organisation: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in accepted:
        by_organisation[item.organisation].append(item.event)
    for organisation, events in by_organisation.items():
        await writer.publish(GATEWAY, organisation, events)
    return outcome(
        202,
        [
            Issue(
                "information",
                "informational",
                f"accepted {item.event['event_type']} {item.event['event_id']}",
                item.expression,
            )
            for item in accepted
        ],
    )


def _unavailable(error: KafkaUnavailable) -> Response:
    response = outcome(
        503,
        [
            Issue(
                "error",
                "transient",
                f"{error}. Nothing of this request is claimed as accepted: send it again "
                "(resent Encounters map to the same event ids and are absorbed).",
            )
        ],
    )
    response.headers["Retry-After"] = RETRY_AFTER_SECONDS
    return response
