"""What the FHIR gateway answers: an OperationOutcome, its HTTP status, and what to dead-letter.

A refusal is a `flowsight.services.validation.Rejected` (reason, element, sentence); each becomes
an OperationOutcome issue whose `details` carry the dead-letter reason and whose `expression`
points into the request (`Bundle.entry[2].resource.status`). What was accepted is told in issues
too; `replies` gives them the shape FHIR answers a transaction or a message with. Built and
checked by fhir.resources; no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from fhir.resources.R4B.operationoutcome import OperationOutcome

from flowsight.adapters.fhir.elements import INVALID_FHIR, UNSUPPORTED_ENCOUNTER
from flowsight.services.pseudonym import without_nhs_numbers
from flowsight.services.validation import (
    IN_THE_FUTURE,
    MALFORMED_JSON,
    MISSING_FIELD,
    SERVICE_NOT_OWNED,
    SOURCE_MISMATCH,
    UNKNOWN_SERVICE,
    Rejected,
)

FHIR_JSON = "application/fhir+json"
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


@dataclass(frozen=True, slots=True)
class Issue:
    """One OperationOutcome.issue."""

    severity: str
    code: str
    diagnostics: str
    expression: str | None = None
    reason: str | None = None
    #: The Bundle entry it is about (None: a resource posted alone, or the Bundle as a whole).
    entry: int | None = None


@dataclass(frozen=True, slots=True)
class Answer:
    """An OperationOutcome to answer with, its HTTP status, and the refused bytes to dead-letter."""

    status: int
    issues: list[Issue]
    dead_letters: list[tuple[bytes, Rejected]] = field(default_factory=list)
    #: HTTP headers of the answer besides its content type (a 401's WWW-Authenticate).
    headers: dict[str, str] = field(default_factory=dict)
    #: The body, when it is not the OperationOutcome of `issues`: the transaction-response or
    #: response message of an accepted Bundle (`replies`).
    body: str | None = None


@dataclass(frozen=True, slots=True)
class AcceptedEvent:
    """An event an Encounter became, the organisation it is published for, and where it came from."""

    organisation: str
    event: dict[str, Any]
    expression: str
    #: The Bundle entry of its Encounter (None: an Encounter posted alone).
    entry: int | None = None


@dataclass(frozen=True, slots=True)
class Envelope:
    """The Bundle a request's resources came in, as its answer names it: a transaction's
    entries, answered one by one, or a message's MessageHeader, which its response names."""

    kind: str  # transaction, message
    entries: int
    #: A message's MessageHeader (validated R4) and the id the response names it by.
    header: dict[str, Any] | None = None
    header_id: str | None = None


@dataclass(frozen=True, slots=True)
class Examined:
    """What a request's resources became: the events to publish, and issues to tell the sender
    (warnings such as an unmapped location, entries of a Bundle that were not mapped)."""

    events: list[AcceptedEvent]
    notes: list[Issue] = field(default_factory=list)
    #: The Bundle they came in (None: an Encounter posted alone).
    envelope: Envelope | None = None


def error(status: int, code: str, diagnostics: str, expression: str | None = None) -> Answer:
    """An answer with one error issue and nothing to dead-letter."""
    return Answer(status, [Issue("error", code, diagnostics, expression)])


def refused(raw: bytes, rejected: Rejected, prefix: str) -> Answer:
    """A 422 for one refused resource: its issue points at the element below `prefix`, or at
    another entry of the transaction (a Location whose name was the unit) named whole."""
    expression = within(prefix, rejected.field)
    issue_type = ISSUE_TYPES.get(rejected.reason, "value")
    issue = Issue("error", issue_type, rejected.message, expression, rejected.reason)
    return Answer(422, [issue], [(raw, rejected)])


def within(prefix: str, element: str) -> str:
    """An Encounter's `element` as the request names it, the Encounter being at `prefix`; an
    element of another entry of the transaction (`Bundle.entry[0].resource.name`) as it is."""
    return element if element.startswith("Bundle.") else prefix + element.removeprefix("Encounter")


def refused_all(answers: Sequence[Answer]) -> Answer:
    """One 422 for every refused entry of a Bundle: all their issues and dead letters."""
    return Answer(
        422,
        [issue for answer in answers for issue in answer.issues],
        [letter for answer in answers for letter in answer.dead_letters],
    )


def accepted(examined: Examined) -> Answer:
    """A 200 naming every event published, then every warning and note.

    200, not 202: FHIR answers a transaction 200 with its response Bundle, and FHIR clients
    take nothing else for one (Firely's FhirClient: 200 for a transaction, 200 or 201 for a
    create). Each event is on Kafka when this is answered, as a 202 of `POST /v1/events` says.
    """
    return Answer(
        200,
        [
            Issue(
                "information",
                "informational",
                f"accepted {item.event['event_type']} {item.event['event_id']}",
                item.expression,
                entry=item.entry,
            )
            for item in examined.events
        ]
        + examined.notes,
    )


def unavailable(why: str) -> Answer:
    """A 503: Kafka did not acknowledge, so nothing of the request is claimed."""
    return error(
        503,
        "transient",
        f"{why}. Nothing of this request is claimed as accepted: send it again "
        "(resent Encounters map to the same event ids and are absorbed).",
    )


def operation_outcome(issues: Sequence[Issue]) -> str:
    """The OperationOutcome resource of `issues`, as FHIR JSON."""
    return str(OperationOutcome.model_validate(outcome_resource(issues)).model_dump_json())


def outcome_resource(issues: Sequence[Issue]) -> dict[str, Any]:
    """The OperationOutcome of `issues`, as a FHIR JSON object; NHS-number-shaped runs in the
    diagnostics are blanked (a refused value may be quoted, and an answer must not carry one)."""
    return {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": issue.severity,
                "code": issue.code,
                "diagnostics": without_nhs_numbers(issue.diagnostics),
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
