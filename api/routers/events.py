"""The HTTP gateway (SPEC 7): `POST /v1/events` takes one event or a batch from a publisher."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any, cast

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from flowsight.adapters.kafka.producer import correlate_request
from flowsight.api.auth import Principal
from flowsight.api.deps import (
    CallerDep,
    EventWriter,
    KafkaUnavailable,
    StateDep,
    WriterDep,
    organisation_for,
    publisher_organisations,
)
from flowsight.api.openapi import inline_schema
from flowsight.api.problems import PROBLEM_JSON, Problem, problem, problem_response
from flowsight.schemas.strict_json import DECODER, refuse_lone_surrogates, unreadable
from flowsight.services.pseudonym import without_nhs_numbers
from flowsight.services.validation import (
    MALFORMED_JSON,
    SOURCE_MISMATCH,
    Accepted,
    Rejected,
    ValidationContext,
    validate_document,
)

#: Most events one request may carry (setting `http_batch_max` once the lead adds it).
HTTP_BATCH_MAX = 500
#: Largest request body read, in bytes (setting `http_body_max_bytes`); Kafka's default message
#: limit is about 1 MB, so a body this size can still be dead-lettered whole.
HTTP_BODY_MAX_BYTES = 1_000_000
GATEWAY = "http"
#: Seconds a client should wait before retrying a request Kafka did not acknowledge.
RETRY_AFTER_SECONDS = "5"

router = APIRouter(prefix="/v1", tags=["events"])


class EventsAccepted(BaseModel):
    """Events written to Kafka and acknowledged."""

    accepted: int = Field(description="how many events were written")
    event_ids: list[str] = Field(
        description="their event ids, in request order (an NHS number in one blanked)"
    )


class RefusedEvent(BaseModel):
    """One event of the body that was refused and dead-lettered."""

    index: int | None = Field(None, description="its position in the batch")
    event_id: str | None = Field(None, description="its event id, when it had one")
    field: str = Field(description="the field at fault, or `body`")
    reason: str = Field(description="the dead-letter reason, e.g. missing_field")
    message: str


class EventsRefused(BaseModel):
    """A 422 problem: which events were refused, and those of the batch accepted all the same."""

    type: str
    title: str
    status: int
    detail: str
    instance: str
    errors: list[RefusedEvent] | None = Field(None, description="each event refused")
    accepted: int | None = Field(None, description="valid events of the batch, accepted")
    event_ids: list[str] | None = Field(None, description="their event ids")


class BodyTooLarge(Exception):
    """The request body is longer than the gateway reads."""


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing to buffer more than `limit` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise BodyTooLarge
    return bytes(body)


_WHITESPACE = " \t\n\r"


def _skip_whitespace(text: str, position: int) -> int:
    while position < len(text) and text[position] in _WHITESPACE:
        position += 1
    return position


def split_events(body: bytes) -> list[tuple[object, bytes]]:
    """Each event of a body (one JSON value or an array of them) with its own original bytes."""
    try:
        items = _split(body.decode("utf-8"), body)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    for document, raw in items:
        refuse_lone_surrogates(raw, document)
    return items


def _split(text: str, body: bytes) -> list[tuple[object, bytes]]:
    start = _skip_whitespace(text, 0)
    if not text.startswith("[", start):
        return [(DECODER.decode(text), body)]
    # Decoded element by element so a dead letter carries exactly the bytes that event was sent as.
    items: list[tuple[object, bytes]] = []
    position = _skip_whitespace(text, start + 1)
    if text.startswith("]", position):
        position += 1
    else:
        while True:
            document, end = DECODER.raw_decode(text, position)
            items.append((document, text[position:end].encode()))
            position = _skip_whitespace(text, end)
            if text.startswith(",", position):
                position = _skip_whitespace(text, position + 1)
            elif text.startswith("]", position):
                position += 1
                break
            else:
                raise ValueError(f"expected ',' or ']' at character {position}")
    if _skip_whitespace(text, position) != len(text):
        raise ValueError(f"unexpected data after the array at character {position}")
    return items


@router.post(
    "/events",
    status_code=202,
    response_model=EventsAccepted,
    summary="Publish one event or a batch",
    responses={
        403: problem("the API key has no publisher:<ORG> role (problem details)"),
        413: problem("body or batch larger than the gateway takes (problem details)"),
        422: {
            "description": "malformed body, or invalid events: one entry each, dead-lettered; "
            "the valid events of the batch were accepted (problem details)",
            "content": {PROBLEM_JSON: {"schema": inline_schema(EventsRefused)}},
        },
        503: {
            **problem("Kafka did not acknowledge; nothing was claimed, retry (problem details)"),
            "headers": {
                "Retry-After": {
                    "description": "seconds to wait before sending the same request again",
                    "schema": {"type": "string"},
                }
            },
        },
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "oneOf": [
                            {"type": "object", "description": "one event (contract v1)"},
                            {"type": "array", "items": {"type": "object"}},
                        ]
                    }
                }
            },
        }
    },
)
async def publish_events(
    request: Request, state: StateDep, principal: CallerDep, writer: WriterDep
) -> Response:
    """Validate every event; write the valid ones to the organisation's ingest topic (202 once
    Kafka acknowledged), dead-letter the invalid ones and name each in a 422."""
    correlate_request(request.headers)  # X-Correlation-ID / X-Request-ID onto every record
    organisations = _publisher_organisations(principal)
    try:
        body = await read_body(request, HTTP_BODY_MAX_BYTES)
    except BodyTooLarge:
        raise Problem(
            413, "Body too large", f"the body is over {HTTP_BODY_MAX_BYTES} bytes; split it"
        ) from None
    try:
        accepted = await _accept(body, organisations, state.validation, writer)
    except KafkaUnavailable as error:
        response = problem_response(
            request,
            503,
            "Kafka unavailable",
            f"{error}. No event of this request is claimed as accepted: send the same request "
            "again (events written before the failure are absorbed by (source, event_id)).",
        )
        response.headers["Retry-After"] = RETRY_AFTER_SECONDS
        return response
    return JSONResponse(accepted.model_dump(), status_code=202)


async def _accept(
    body: bytes,
    organisations: frozenset[str],
    context: ValidationContext,
    writer: EventWriter,
) -> EventsAccepted:
    """Validate, publish and dead-letter; raise a 413/422 Problem naming what was wrong."""
    try:
        items = split_events(body)
    except ValueError as error:
        message = f"the body is not JSON: {unreadable(error)}"
        await writer.dead_letter(
            body,
            organisation=min(organisations),
            gateway=GATEWAY,
            reason=MALFORMED_JSON,
            field="",
            message=message,
        )
        raise Problem(
            422,
            "Malformed body",
            f"{message}; send one event object or a JSON array of them",
            errors=[{"field": "body", "reason": MALFORMED_JSON, "message": message}],
        ) from None
    if len(items) > HTTP_BATCH_MAX:
        raise Problem(
            413,
            "Batch too large",
            f"the batch has {len(items)} events; send at most {HTTP_BATCH_MAX} a request",
        )
    if not items:
        raise Problem(422, "Empty batch", "the body is an empty array: there is nothing to publish")

    now = datetime.now(UTC)
    valid: dict[str, list[dict[str, Any]]] = defaultdict(list)
    accepted_ids: list[str] = []
    errors: list[dict[str, Any]] = []
    refused: list[tuple[bytes, str, Rejected]] = []
    for index, (document, raw) in enumerate(items):
        source = document.get("source") if isinstance(document, dict) else None
        organisation = organisation_for(source, organisations)
        outcome = validate_document(document, organisation=organisation, context=context, now=now)
        if isinstance(outcome, Accepted):
            document = cast(dict[str, Any], document)  # validate_document accepts objects only
            valid[organisation].append(document)
            accepted_ids.append(document["event_id"])
            continue
        if outcome.reason == SOURCE_MISMATCH and len(organisations) > 1:
            outcome = Rejected(
                SOURCE_MISMATCH,
                "source",
                f"source {source!r} is not one of the organisations this API key publishes "
                f"for ({', '.join(sorted(organisations))})",
            )
        refused.append((raw, organisation, outcome))
        entry: dict[str, Any] = {"index": index}
        if isinstance(document, dict) and isinstance(document.get("event_id"), str):
            entry["event_id"] = document["event_id"]
        errors.append(
            entry | {"reason": outcome.reason, "field": outcome.field, "message": outcome.message}
        )

    # Valid events first: a partly invalid batch still delivers them, and a resend of the whole
    # batch is absorbed downstream by (source, event_id) idempotency.
    for organisation, events in valid.items():
        await writer.publish(GATEWAY, organisation, events)
    for raw, organisation, rejected in refused:
        await writer.dead_letter(
            raw,
            organisation=organisation,
            gateway=GATEWAY,
            reason=rejected.reason,
            field=rejected.field,
            message=rejected.message,
        )
    if errors:
        fields = ", ".join(f"[{e['index']}] {e['field'] or e['reason']}" for e in errors)
        raise Problem(
            422,
            "Invalid events",
            f"{len(errors)} of {len(items)} events are invalid and were dead-lettered ({fields}); "
            f"valid events accepted: {len(accepted_ids)}",
            errors=errors,
            accepted=len(accepted_ids),
            event_ids=accepted_ids,
        )
    # As a refusal's: people paste answers into tickets, and a source may key by the number.
    shown = [without_nhs_numbers(event_id) for event_id in accepted_ids]
    return EventsAccepted(accepted=len(accepted_ids), event_ids=shown)


def _publisher_organisations(principal: Principal) -> frozenset[str]:
    organisations = publisher_organisations(principal)
    if not organisations:
        raise Problem(
            403,
            "Forbidden",
            f"API key {principal.name!r} has no publisher:<ORG> role (e.g. publisher:RR8), "
            "so it may not publish events",
            who=principal.audit_name,
        )
    return organisations
