"""The FHIR R4 gateway: `POST /fhir/Encounter`, transaction Bundles of them at `POST /fhir`, and
FHIR messages at `POST /fhir/$process-message`.

Callers are authenticated as on `POST /v1/events` (an API key or an OIDC token with a
`publisher:<ORG>` role). What was accepted is answered 200 as FHIR answers each interaction (an
OperationOutcome, a transaction-response Bundle, a response message: adapters.fhir.replies);
every refusal is an OperationOutcome. Reading, mapping and validating the resources is
flowsight.adapters.fhir's; this router reads the body, writes to Kafka and answers.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from starlette.exceptions import HTTPException

from flowsight.adapters.fhir import intake, outcome, replies
from flowsight.adapters.fhir.outcome import FHIR_JSON, Answer, Examined
from flowsight.adapters.fhir.xml_body import FHIR_XML
from flowsight.adapters.kafka.producer import correlate_request
from flowsight.adapters.profile import MappingProfile
from flowsight.api.deps import (
    ApiState,
    EventWriter,
    KafkaUnavailable,
    PresentedKey,
    StateDep,
    WriterDep,
    caller,
    organisation_for,
    publisher_organisations,
)
from flowsight.api.problems import Problem, log_denied
from flowsight.api.routers.events import RETRY_AFTER_SECONDS, BodyTooLarge, read_body

GATEWAY = "fhir"
#: Where the composition root leaves each organisation's mapping profile on the app's state.
PROFILES_STATE = "mapping_profiles"

router = APIRouter(prefix="/fhir", tags=["fhir"])

#: The FHIR R4 OperationOutcome every answer of the gateway is, as far as flowsight fills it in.
OPERATION_OUTCOME: dict[str, Any] = {
    "type": "object",
    "required": ["resourceType", "issue"],
    "properties": {
        "resourceType": {"const": "OperationOutcome"},
        "issue": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["severity", "code"],
                "properties": {
                    "severity": {"enum": ["fatal", "error", "warning", "information"]},
                    "code": {"type": "string"},
                    "diagnostics": {"type": "string"},
                    "expression": {"type": "array", "items": {"type": "string"}},
                    "details": {"type": "object"},
                },
            },
        },
    },
}


#: A transaction's answer once accepted: one entry per request entry, in order (FHIR R4
#: http.html#transaction), each entry's status and, in its outcome, what it became.
TRANSACTION_RESPONSE: dict[str, Any] = {
    "type": "object",
    "required": ["resourceType", "type", "entry"],
    "properties": {
        "resourceType": {"const": "Bundle"},
        "type": {"const": "transaction-response"},
        "entry": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["response"],
                "properties": {
                    "response": {
                        "type": "object",
                        "required": ["status"],
                        "properties": {
                            "status": {"enum": [replies.PUBLISHED, replies.NOTHING_PUBLISHED]},
                            "outcome": OPERATION_OUTCOME,
                        },
                    }
                },
            },
        },
    },
}
#: A FHIR message's answer once accepted: a response message, its MessageHeader first naming the
#: request's (`response.identifier`, code `ok`), then the OperationOutcome its details refer to.
RESPONSE_MESSAGE: dict[str, Any] = {
    "type": "object",
    "required": ["resourceType", "type", "timestamp", "entry"],
    "properties": {
        "resourceType": {"const": "Bundle"},
        "type": {"const": "message"},
        "timestamp": {"type": "string"},
        "entry": {
            "type": "array",
            "minItems": 2,
            "maxItems": 2,
            "items": {
                "type": "object",
                "required": ["fullUrl", "resource"],
                "properties": {"fullUrl": {"type": "string"}, "resource": {"type": "object"}},
            },
        },
    },
}


def _outcome(description: str, schema: dict[str, Any] = OPERATION_OUTCOME) -> dict[str, Any]:
    return {"description": description, "content": {FHIR_JSON: {"schema": schema}}}


_REFUSALS: dict[int | str, Any] = {
    400: _outcome("not JSON, or not the resource type (OperationOutcome)"),
    401: {
        **_outcome("no API key or token, or not a valid one (OperationOutcome)"),
        "headers": {
            "WWW-Authenticate": {
                "description": 'how to authenticate: Bearer realm="flowsight"',
                "schema": {"type": "string"},
            }
        },
    },
    403: _outcome("the caller has no publisher:<ORG> role (OperationOutcome)"),
    408: _outcome("the body did not arrive within 30 s (OperationOutcome)"),
    413: _outcome("body or Bundle larger than the gateway takes (OperationOutcome)"),
    422: _outcome("refused; one issue per problem, dead-lettered (OperationOutcome)"),
    503: {
        **_outcome("Kafka did not acknowledge; retry (OperationOutcome)"),
        "headers": {
            "Retry-After": {
                "description": "seconds to wait before sending the same request again",
                "schema": {"type": "string"},
            }
        },
    },
}


def _route(resource_type: str, accepted: dict[str, Any]) -> dict[str, Any]:
    """The route's declaration: its 200 answer `accepted`, the refusals every route answers
    with, and a body of `resource_type` in JSON or XML."""
    resource = {
        "type": "object",
        "required": ["resourceType"],
        "properties": {"resourceType": {"const": resource_type}},
    }
    content = {
        FHIR_JSON: {"schema": resource},
        "application/json": {"schema": resource},
        FHIR_XML: {"schema": {"type": "string", "description": f"a {resource_type}, as XML"}},
    }
    return {
        "status_code": 200,
        "response_class": Response,
        "responses": {200: accepted} | _REFUSALS,
        "openapi_extra": {"requestBody": {"required": True, "content": content}},
    }


def fhir_publisher(request: Request, state: StateDep, key: PresentedKey) -> frozenset[str] | Answer:
    """The organisations the caller publishes for, or the 401/403 OperationOutcome to answer.

    Authentication is `POST /v1/events`'s own dependency (API key, or OIDC token when an issuer
    is configured); only its refusal is told as an OperationOutcome, and logged as every
    refusal is.
    """
    try:
        principal = caller(state, key)
    except Problem as refused:
        log_denied(request, refused.status, refused.who, refused.detail)
        # The refusal's headers too: a 401 says how to authenticate (WWW-Authenticate).
        return replace(
            outcome.error(refused.status, "login", refused.detail), headers=refused.headers
        )
    organisations = publisher_organisations(principal)
    if not organisations:
        detail = f"API key {principal.name!r} has no publisher:<ORG> role, so it may not publish"
        log_denied(request, 403, principal.audit_name, detail)
        return outcome.error(403, "forbidden", detail)
    return organisations


PublisherDep = Annotated[frozenset[str] | Answer, Depends(fhir_publisher)]
#: What a resource of the body becomes: its events, or the OperationOutcome to answer.
_Examine = Callable[[dict[str, Any], bytes, intake.Reading], Examined | Answer]


def mapping_profiles(request: Request) -> Mapping[str, MappingProfile]:
    """Each organisation's mapping profile, as the composition root loaded them (none: {})."""
    profiles: Mapping[str, MappingProfile] = getattr(request.app.state, PROFILES_STATE, {})
    return profiles


@router.post(
    "/Encounter",
    summary="Publish an Encounter as attendance, admission, transfer, discharge",
    **_route(
        "Encounter",
        _outcome("published (on Kafka): OperationOutcome, an information issue per event"),
    ),
)
async def post_encounter(
    request: Request, state: StateDep, publisher: PublisherDep, writer: WriterDep
) -> Response:
    """Map one Encounter to events; 200 once Kafka acknowledged them, with an OperationOutcome
    naming each (nothing is stored, so no Location); else an OperationOutcome saying why not."""
    return await _serve(request, state, publisher, writer, "Encounter", intake.examine_encounter)


@router.post(
    "",
    summary="Publish a transaction Bundle of Encounters, all or none",
    **_route(
        "Bundle",
        _outcome(
            "published (on Kafka): a transaction-response Bundle, an entry per request entry "
            "in order, each with its status and what it became as its outcome",
            TRANSACTION_RESPONSE,
        ),
    ),
)
async def post_bundle(
    request: Request, state: StateDep, publisher: PublisherDep, writer: WriterDep
) -> Response:
    """Map every Encounter of a transaction Bundle; publish them all and answer a
    transaction-response, or publish none and say why in an OperationOutcome."""
    return await _serve(request, state, publisher, writer, "Bundle", intake.examine_bundle)


@router.post(
    "/$process-message",
    summary="Publish a FHIR message (admit, transfer, discharge notification), all or none",
    **_route(
        "Bundle",
        _outcome(
            "published (on Kafka): a response message whose MessageHeader names the request's "
            "(response.identifier, code ok) and whose details are the OperationOutcome",
            RESPONSE_MESSAGE,
        ),
    ),
)
async def process_message(
    request: Request, state: StateDep, publisher: PublisherDep, writer: WriterDep
) -> Response:
    """Map every Encounter of a message Bundle (its MessageHeader first), as a transaction's,
    whatever the message's event: publish them all and answer a response message, or publish
    none and say why in an OperationOutcome."""
    return await _serve(request, state, publisher, writer, "Bundle", intake.examine_message)


async def _serve(
    request: Request,
    state: ApiState,
    publisher: frozenset[str] | Answer,
    writer: EventWriter,
    resource_type: str,
    examine: _Examine,
) -> Response:
    if isinstance(publisher, Answer):
        return _response(publisher)
    correlate_request(request.headers)  # X-Correlation-ID / X-Request-ID onto every record
    try:
        body = await read_body(request, intake.FHIR_BODY_MAX_BYTES)
    except BodyTooLarge:
        return _response(intake.too_large())
    except HTTPException as late:  # 408: not all of it came in time (api/middleware.BodyBounds)
        if late.status_code != 408:
            raise
        return _response(outcome.error(408, "timeout", str(late.detail)))
    xml = intake.is_xml(request.headers.get("content-type"))
    reading = intake.Reading(
        publisher, state.validation, datetime.now(UTC), organisation_for, mapping_profiles(request)
    )
    # Reading a body into FHIR models is CPU work of up to seconds for the largest bodies
    # (fhir.resources reads 900 KB of XML in ~5 s): in a thread, so that the event loop goes on
    # answering every other caller meanwhile (it had waited the whole time, /healthz too).
    result = await asyncio.to_thread(_examined, body, resource_type, xml, examine, reading)
    try:
        if isinstance(result, Answer):
            await _dead_letter(writer, publisher, result)
            return _response(result)
        await _publish(writer, result)
        endpoint = str(request.url.replace(query="", fragment=""))
        return _response(replies.accepted(result, endpoint, reading.now))
    except KafkaUnavailable as error:
        response = _response(outcome.unavailable(str(error)))
        response.headers["Retry-After"] = RETRY_AFTER_SECONDS
        return response


def _examined(
    body: bytes, resource_type: str, xml: bool, examine: _Examine, reading: intake.Reading
) -> Examined | Answer:
    """What `body` becomes: its events, or the answer refusing it (pure, for a thread)."""
    document = intake.resource_of(body, resource_type, xml=xml)
    return document if isinstance(document, Answer) else examine(document, body, reading)


async def _dead_letter(writer: EventWriter, organisations: frozenset[str], answer: Answer) -> None:
    for raw, rejected in answer.dead_letters:
        await writer.dead_letter(
            raw,
            organisation=min(organisations),
            gateway=GATEWAY,
            reason=rejected.reason,
            field=rejected.field,
            message=rejected.message,
        )


async def _publish(writer: EventWriter, examined: Examined) -> None:
    by_organisation: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in examined.events:
        by_organisation[item.organisation].append(item.event)
    for organisation, events in by_organisation.items():
        await writer.publish(GATEWAY, organisation, events)


def _response(answer: Answer) -> Response:
    body = outcome.operation_outcome(answer.issues) if answer.body is None else answer.body
    return Response(body, status_code=answer.status, headers=answer.headers, media_type=FHIR_JSON)
