"""What a FHIR client is answered when what it sent was accepted, as FHIR R4 says it is answered
and as FHIR client libraries read it: a transaction with a `transaction-response` Bundle, one
entry per request entry in order (http.html#transaction), a message at `$process-message` with a
response message naming the request's MessageHeader (messaging.html), an Encounter with an
OperationOutcome; each 200, as Firely's FhirClient expects of a transaction (its create takes
200 or 201: a 202 threw though Kafka had the events). Refusals stay OperationOutcomes."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.messageheader import MessageHeader
from fhir.resources.R4B.operationoutcome import OperationOutcome

from flowsight.adapters.profile import LocationRule, MappingProfile
from flowsight.api.routers import fhir as fhir_router
from tests.adapters.fhir.encounters import CORPUS
from tests.api.gateway import RecordingWriter, bundle, encounter, issues, post_fhir

DA_VINCI_ADMIT = CORPUS / "davinci-alerts__admit-notification-message-bundle-01.json"
#: NHS England's BaRS example: its MessageHeader has no id, only its entry's urn:uuid fullUrl.
BARS_REQUEST = CORPUS / "nhs-bars__ValidationRequest-POST.json"
#: Da Vinci's admission at Holy Family Hospital, placed in RR8's emergency department.
EMERGENCY = MappingProfile(
    organisation="RR8", locations=[LocationRule(location="HOLY*", service="lth-ed")]
)


@pytest.fixture(autouse=True)
def rr8_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fhir_router, "mapping_profiles", lambda request: {"RR8": EMERGENCY})


def diagnostics(outcome: OperationOutcome | None) -> list[str]:
    assert outcome is not None
    return [str(issue.diagnostics) for issue in outcome.issue]


async def test_a_transaction_is_answered_by_a_transaction_response_entry_by_entry(
    client: httpx.AsyncClient, writer: RecordingWriter
) -> None:
    patient = {"resourceType": "Patient", "id": "p1"}
    second = encounter(id="enc-2", identifier=[{"value": "SPELL-10"}])
    document = bundle(encounter(), patient, second)

    response = await post_fhir(client, "/fhir", document)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/fhir+json"
    answer = Bundle.model_validate(response.json())
    assert answer.type == "transaction-response"
    entries = answer.entry or []
    assert len(entries) == len(document["entry"])
    assert [entry.response.status for entry in entries if entry.response] == [
        "202 Accepted",
        "200 OK",
        "202 Accepted",
    ]
    first, ignored, last = (entry.response.outcome for entry in entries if entry.response)
    assert isinstance(first, OperationOutcome) and isinstance(last, OperationOutcome)
    assert diagnostics(first) == ["accepted admission SPELL-9:admission"]
    assert diagnostics(last) == ["accepted admission SPELL-10:admission"]
    assert isinstance(ignored, OperationOutcome)
    assert "Bundle.entry[1] is a Patient: not mapped on its own" in diagnostics(ignored)[0]
    assert [e["event_id"] for e in writer.events()] == ["SPELL-9:admission", "SPELL-10:admission"]


async def test_a_transaction_that_publishes_nothing_says_so_in_each_entry(
    client: httpx.AsyncClient, writer: RecordingWriter
) -> None:
    patient = {"resourceType": "Patient", "id": "p1"}

    response = await post_fhir(client, "/fhir", bundle(patient))

    assert response.status_code == 200, response.text
    (entry,) = Bundle.model_validate(response.json()).entry or []
    assert entry.response and entry.response.status == "200 OK"
    said = diagnostics(entry.response.outcome)  # type: ignore[arg-type]
    assert said[-1] == "no Encounter in the Bundle: nothing published"
    assert writer.published == []


@pytest.mark.parametrize("entries", [[], None], ids=["no entries", "no entry element"])
async def test_an_empty_transaction_is_answered_by_an_empty_transaction_response(
    client: httpx.AsyncClient, writer: RecordingWriter, entries: list[Any] | None
) -> None:
    # FHIR R4 allows a transaction with no entries (a feed's run that had nothing to send): a
    # server answers it with an empty transaction-response, not a refusal and a dead letter.
    document = {"resourceType": "Bundle", "type": "transaction"}
    if entries is not None:
        document["entry"] = entries

    response = await post_fhir(client, "/fhir", document)

    assert response.status_code == 200, response.text
    answer = Bundle.model_validate(response.json())
    assert answer.type == "transaction-response"
    assert not answer.entry
    assert writer.published == []
    assert writer.dead_letters == []


async def test_an_empty_message_is_still_refused_it_has_no_message_header(
    client: httpx.AsyncClient, writer: RecordingWriter
) -> None:
    response = await post_fhir(client, "/fhir/$process-message", bundle(kind="message"))

    assert response.status_code == 422
    assert issues(response)[0][2] == "Bundle.entry"
    assert "the Bundle has no entries" in response.text


async def test_a_refused_transaction_is_still_an_operation_outcome(
    client: httpx.AsyncClient, writer: RecordingWriter
) -> None:
    response = await post_fhir(client, "/fhir", bundle(encounter(status="unknown")))

    assert response.status_code == 422
    assert issues(response)[0][2] == "Bundle.entry[0].resource.status"
    assert writer.published == []


def response_message(response: httpx.Response) -> tuple[MessageHeader, OperationOutcome]:
    """The response message's MessageHeader and the OperationOutcome its details refer to."""
    assert response.headers["content-type"] == "application/fhir+json"
    answer = Bundle.model_validate(response.json())
    assert answer.type == "message"
    header_entry, outcome_entry = answer.entry or []
    assert isinstance(header_entry.resource, MessageHeader)
    assert isinstance(outcome_entry.resource, OperationOutcome)
    header = header_entry.resource
    assert header.response and header.response.details
    assert header.response.details.reference == outcome_entry.fullUrl
    return header, outcome_entry.resource


async def test_a_message_is_answered_by_a_response_message_naming_its_header(
    client: httpx.AsyncClient, writer: RecordingWriter
) -> None:
    request = json.loads(DA_VINCI_ADMIT.read_bytes())
    asked = request["entry"][0]["resource"]

    response = await post_fhir(client, "/fhir/$process-message", request)

    assert response.status_code == 200, response.text
    header, outcome = response_message(response)
    assert header.response and (header.response.identifier, header.response.code) == (
        asked["id"],
        "ok",
    )
    assert header.eventCoding and header.eventCoding.code == asked["eventCoding"]["code"]
    assert header.source.endpoint == "http://api/fhir/$process-message"
    assert diagnostics(outcome)[0].startswith("accepted attendance Elden718Halvorson")
    assert [e["event_type"] for e in writer.events()] == ["attendance", "cancellation"]


async def test_a_message_header_without_an_id_is_named_by_its_entry_s_uuid(
    client: httpx.AsyncClient,
) -> None:
    request = json.loads(BARS_REQUEST.read_bytes())
    assert "id" not in request["entry"][0]["resource"]

    response = await post_fhir(client, "/fhir/$process-message", request)

    assert response.status_code == 200, response.text
    header, _ = response_message(response)
    assert header.response and header.response.identifier == "1cbdfb97-5859-48a4-8301-d54eab818d68"


@pytest.mark.parametrize(
    ("change", "expression"),
    [
        (lambda entry: entry.pop("fullUrl"), "Bundle.entry[0].resource.id"),
        (lambda entry: entry["resource"].pop("source"), "Bundle.entry[0].resource.source"),
        (lambda entry: entry["resource"].pop("eventCoding"), "Bundle.entry[0].resource"),
    ],
    ids=["nothing-names-the-header", "no-source", "no-event"],
)
async def test_a_message_whose_header_cannot_be_answered_is_refused(
    client: httpx.AsyncClient, writer: RecordingWriter, change: Any, expression: str
) -> None:
    request = json.loads(BARS_REQUEST.read_bytes())
    change(request["entry"][0])

    response = await post_fhir(client, "/fhir/$process-message", request)

    assert response.status_code == 422
    assert expression in [issue[2] for issue in issues(response)]
    assert "Value error" not in response.text and "Expect any" not in response.text
    assert writer.published == [] and len(writer.dead_letters) == 1


async def test_an_encounter_is_answered_200_with_an_operation_outcome(
    client: httpx.AsyncClient, writer: RecordingWriter
) -> None:
    response = await post_fhir(client, "/fhir/Encounter", encounter())

    assert response.status_code == 200, response.text
    assert issues(response) == [("information", "informational", "Encounter", None)]
    assert "Location" not in response.headers  # nothing is stored that one could point to
