"""What real and careless FHIR senders post that the gateway once answered wrongly: JSON only
the standard library's writer writes back, version-specific references, and NHS numbers put
where free text or a reference goes. Each is answered (never a 500), loses nothing, and no
answer carries an NHS number."""

from __future__ import annotations

import json

import httpx

from tests.api.gateway import (
    NHS_NUMBER,
    RecordingWriter,
    bundle,
    encounter,
    issues,
    post_fhir,
)

SPACED = f"{NHS_NUMBER[:3]} {NHS_NUMBER[3:6]} {NHS_NUMBER[6:]}"
PATIENT = {
    "resourceType": "Patient",
    "id": NHS_NUMBER,  # the PDS FHIR API's Patient ids are NHS numbers
    "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": NHS_NUMBER}],
}


async def test_a_transaction_of_json_orjson_cannot_write_is_a_422_and_dead_lettered(
    client: httpx.AsyncClient, writer: RecordingWriter
) -> None:
    in_display = encounter(location=[{"location": {"identifier": {"value": "lth-wards"}}}])
    in_display["location"][0]["location"]["display"] = "Ward \ud800 12"  # a lone surrogate
    huge = encounter(extension=[{"url": "https://x.example/e", "valueInteger": 10**30}])

    # Half a UTF-16 pair is no character: refused at the door (400), as a body that is not
    # JSON text is; a number orjson cannot write is refused naming it (422).
    for resource, status in ((in_display, 400), (huge, 422)):
        body = json.dumps(bundle(resource)).encode()
        response = await post_fhir(client, "/fhir", body)

        assert response.status_code == status, response.text
        assert issues(response)[0][0] == "error"
    assert len(writer.dead_letters) == 2 and writer.published == []


async def test_a_version_specific_patient_reference_resolves_to_the_patient_in_the_bundle(
    client: httpx.AsyncClient, writer: RecordingWriter
) -> None:
    versioned = encounter(subject={"reference": f"Patient/{NHS_NUMBER}/_history/2"})
    document = bundle(versioned)
    document["entry"].insert(
        0,
        {
            "fullUrl": f"https://api.service.nhs.uk/personal-demographics/FHIR/R4/Patient/{NHS_NUMBER}",
            "resource": PATIENT,
            "request": {"method": "PUT", "url": f"Patient/{NHS_NUMBER}"},
        },
    )

    response = await post_fhir(client, "/fhir", document)

    assert response.status_code == 200, response.text
    assert [e["patient"] for e in writer.events()] == [{"nhs_number": NHS_NUMBER}]


async def test_an_unresolved_version_specific_reference_is_refused_without_its_number(
    client: httpx.AsyncClient, writer: RecordingWriter
) -> None:
    alone = encounter(subject={"reference": f"Patient/{NHS_NUMBER}/_history/2"})

    response = await post_fhir(client, "/fhir/Encounter", alone)

    assert response.status_code == 422
    assert issues(response)[0][2] == "Encounter.subject.reference"
    assert NHS_NUMBER not in response.text


async def test_an_nhs_number_in_free_text_never_comes_back_in_the_answer(
    client: httpx.AsyncClient, writer: RecordingWriter
) -> None:
    discharged = encounter(
        status="finished",
        period={"start": "2025-03-10T09:40:00+00:00", "end": "2025-03-12T10:00:00+00:00"},
        hospitalization={"dischargeDisposition": {"text": f"to daughter's, NHS {SPACED}"}},
    )
    unmatched = encounter(location=[{"location": {"identifier": {"value": NHS_NUMBER}}}])

    accepted = await post_fhir(client, "/fhir/Encounter", discharged)
    refused = await post_fhir(client, "/fhir/Encounter", unmatched)

    assert (accepted.status_code, refused.status_code) == (200, 422)
    for answer in (accepted, refused):
        assert NHS_NUMBER not in answer.text.replace(" ", "")
        assert "[nhs-number?]" in answer.text


async def test_a_time_sent_as_a_number_is_refused_naming_it_never_read_as_1970(
    client: httpx.AsyncClient, writer: RecordingWriter
) -> None:
    numeric = encounter(period={"start": 20250310})

    response = await post_fhir(client, "/fhir/Encounter", numeric)

    assert response.status_code == 422
    assert ("error", "structure", "Encounter.period.start", "invalid_fhir") in issues(response)
    assert writer.published == [] and len(writer.dead_letters) == 1


async def test_a_modifier_extension_is_refused_naming_it_not_ignored(
    client: httpx.AsyncClient, writer: RecordingWriter
) -> None:
    negated = encounter(modifierExtension=[{"url": "https://x.example/not", "valueBoolean": True}])

    response = await post_fhir(client, "/fhir/Encounter", negated)

    assert response.status_code == 422
    assert issues(response)[0][1:3] == ("not-supported", "Encounter.modifierExtension")
    assert writer.published == []


async def test_a_key_sent_twice_is_a_400_not_the_last_one_winning(
    client: httpx.AsyncClient, writer: RecordingWriter
) -> None:
    body = json.dumps(encounter(status="entered-in-error")).rstrip("}")
    twice = (body + ', "status": "in-progress"}').encode()  # the retraction would be lost

    response = await post_fhir(client, "/fhir/Encounter", twice)

    assert response.status_code == 400
    assert "'status' appears twice" in response.text
    assert writer.published == [] and [d["raw"] for d in writer.dead_letters] == [twice]


async def test_a_delete_entry_carrying_an_encounter_publishes_no_admission(
    client: httpx.AsyncClient, writer: RecordingWriter
) -> None:
    document = bundle(encounter())
    document["entry"][0]["request"] = {"method": "DELETE", "url": "Encounter/enc-1"}

    response = await post_fhir(client, "/fhir", document)

    assert response.status_code == 422
    assert issues(response)[0][2] == "Bundle.entry[0].request.method"
    assert "entered-in-error" in response.text
    assert writer.published == []
