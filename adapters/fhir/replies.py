"""What an accepted request is answered with, in the shape FHIR R4 gives each interaction.

- An Encounter (`POST /fhir/Encounter`): the OperationOutcome of `outcome.accepted`.
- A transaction (`POST /fhir`): a Bundle of type `transaction-response`, one entry per request
  entry, in the same order (http.html#transaction), each with `response.status` and, in
  `response.outcome`, the OperationOutcome of what that entry became: `202 Accepted` for an
  Encounter whose events were published (on Kafka, applied by the worker; nothing is stored
  that a `location` could point to), `200 OK` for an entry nothing was published for (a
  Patient read beside an Encounter, an Encounter that has not begun).
- A message (`POST /fhir/$process-message`): a response message (messaging.html), a Bundle of
  type `message` whose MessageHeader names the request's (`response.identifier`) with code
  `ok`, and the same OperationOutcome as its `response.details`.

FHIR clients read a transaction's 2xx answer as its response Bundle, and a message's as a response
message: given the OperationOutcome alone, Firely's `TransactionAsync` and `ProcessMessageAsync`
return no Bundle (and its transaction threw on the 202 that came with it). Refusals are not
answered here: they stay OperationOutcomes with their 4xx or 5xx. Built and checked by
fhir.resources; no I/O.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any
from uuid import uuid4

from fhir.resources.R4B.bundle import Bundle

from flowsight.adapters.fhir import outcome
from flowsight.adapters.fhir.outcome import Answer, Envelope, Examined, Issue, outcome_resource

#: `response.status` of a transaction entry whose Encounter's events were published.
PUBLISHED = "202 Accepted"
#: `response.status` of an entry nothing was published for: read, or ignored, as its outcome says.
NOTHING_PUBLISHED = "200 OK"
#: Who answers a message (`MessageHeader.source.name`).
RECEIVER = "flowsight"


def accepted(examined: Examined, endpoint: str, now: datetime) -> Answer:
    """The 200 answer to what was accepted: `endpoint` is the URL the request was posted to,
    which a response message gives as its source."""
    answer = outcome.accepted(examined)
    envelope = examined.envelope
    if envelope is None:
        return answer
    if envelope.kind == "message":
        return replace(answer, body=response_message(envelope, answer.issues, endpoint, now))
    published = {item.entry for item in examined.events}
    return replace(answer, body=transaction_response(envelope, answer.issues, published))


def transaction_response(
    envelope: Envelope, issues: list[Issue], published: set[int | None]
) -> str:
    """The transaction-response Bundle: each request entry's status and its own issues, and
    the issues of the Bundle as a whole (`nothing published`) in every entry's outcome."""
    whole = [issue for issue in issues if issue.entry is None]
    entries = []
    for index in range(envelope.entries):
        own = [issue for issue in issues if issue.entry == index] + whole
        response: dict[str, Any] = {
            "status": PUBLISHED if index in published else NOTHING_PUBLISHED
        }
        if own:
            response["outcome"] = outcome_resource(own)
        entries.append({"response": response})
    return _checked({"resourceType": "Bundle", "type": "transaction-response", "entry": entries})


def response_message(envelope: Envelope, issues: list[Issue], endpoint: str, now: datetime) -> str:
    """The response message to a FHIR message: its MessageHeader answers the request's (its
    event, its id) with code `ok`, its details the OperationOutcome.

    Nothing else of the request is echoed (its source's endpoint, the event's display): an
    answer carries no text a sender wrote but what names the message it answers.
    """
    header = envelope.header or {}
    coding = header.get("eventCoding")
    event = (
        {"eventCoding": {k: v for k, v in coding.items() if k in ("system", "version", "code")}}
        if isinstance(coding, dict)
        else {"eventUri": header.get("eventUri")}
    )
    header_id, outcome_id = str(uuid4()), str(uuid4())
    answering: dict[str, Any] = {
        "resourceType": "MessageHeader",
        "id": header_id,
        **event,
        "source": {"name": RECEIVER, "endpoint": endpoint},
        "response": {
            "identifier": envelope.header_id,
            "code": "ok",
            "details": {"reference": f"urn:uuid:{outcome_id}"},
        },
    }
    return _checked(
        {
            "resourceType": "Bundle",
            "identifier": {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{uuid4()}"},
            "type": "message",
            "timestamp": now.isoformat(),
            "entry": [
                {"fullUrl": f"urn:uuid:{header_id}", "resource": answering},
                {
                    "fullUrl": f"urn:uuid:{outcome_id}",
                    "resource": {"id": outcome_id, **outcome_resource(issues)},
                },
            ],
        }
    )


def _checked(bundle: dict[str, Any]) -> str:
    """The Bundle as FHIR JSON, once fhir.resources has read it as a valid R4 Bundle."""
    return str(Bundle.model_validate(bundle).model_dump_json())
