"""The FHIR gateway over HTTP takes what real senders post: FHIR XML, transactions carrying
Patients and other resources, and the trust's own Locations placed by its mapping profile."""

from __future__ import annotations

import json

import httpx
import pytest

from flowsight.adapters.profile import LocationRule, MappingProfile
from flowsight.api.routers import fhir as fhir_router
from tests.adapters.fhir.encounters import CORPUS, XML_ENCOUNTER, corpus_transaction
from tests.api.gateway import (
    RR8_KEY,
    RecordingWriter,
    accepted_issues,
    auth,
    bundle,
    encounter,
    issues,
)

PROFILE = MappingProfile(
    organisation="RR8", locations=[LocationRule(location="CARDIO*", service="lth-wards")]
)


@pytest.fixture(autouse=True)
def rr8_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    """RR8's FHIR mapping profile, as the composition root would leave it on the app."""
    monkeypatch.setattr(fhir_router, "mapping_profiles", lambda request: {"RR8": PROFILE})


@pytest.mark.parametrize(
    "media", ["application/fhir+xml", "application/xml", "application/xml+fhir; charset=utf-8"]
)
async def test_an_xml_encounter_is_published_like_its_json_twin(
    client: httpx.AsyncClient, writer: RecordingWriter, media: str
) -> None:
    headers = {**auth(RR8_KEY), "Content-Type": media}

    response = await client.post("/fhir/Encounter", content=XML_ENCOUNTER, headers=headers)

    assert response.status_code == 200, response.text
    assert [e["event_id"] for e in writer.events()] == ["enc-x1:admission"]


async def test_xml_declaring_entities_is_a_400_and_dead_lettered(
    client: httpx.AsyncClient, writer: RecordingWriter
) -> None:
    body = (
        b'<!DOCTYPE Encounter [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<Encounter xmlns="http://hl7.org/fhir"><id value="&x;"/></Encounter>'
    )
    headers = {**auth(RR8_KEY), "Content-Type": "application/fhir+xml"}

    response = await client.post("/fhir/Encounter", content=body, headers=headers)

    assert response.status_code == 400
    assert writer.published == []
    assert [d["raw"] for d in writer.dead_letters] == [body]


async def test_a_transaction_with_a_patient_and_a_trust_location_is_published(
    client: httpx.AsyncClient, writer: RecordingWriter
) -> None:
    patient = {
        "resourceType": "Patient",
        "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9434765919"}],
    }
    document = bundle(
        patient,
        encounter(
            subject={"reference": "urn:uuid:7"},
            location=[{"location": {"reference": "Location/CARDIO-1", "display": "Ward 12"}}],
        ),
    )
    document["entry"][0]["fullUrl"] = "urn:uuid:7"

    response = await client.post(
        "/fhir", json=document, headers={**auth(RR8_KEY), "Content-Type": "application/fhir+json"}
    )

    assert response.status_code == 200, response.text
    [admission] = writer.events()
    assert admission["patient"] == {"nhs_number": "9434765919"}
    assert (admission["service"], admission["unit"]) == ("lth-wards", "Ward 12")
    assert ("information", "informational", "Bundle.entry[0]", None) in accepted_issues(response)


async def test_an_xml_encounter_with_an_element_r4_lacks_is_refused_naming_it(
    client: httpx.AsyncClient, writer: RecordingWriter
) -> None:
    r5 = XML_ENCOUNTER.replace(
        b'<period><start value="2025-03-10T09:40:00+00:00"/></period>',
        b'<actualPeriod><start value="2025-03-10T09:40:00+00:00"/></actualPeriod>',
    )
    headers = {**auth(RR8_KEY), "Content-Type": "application/fhir+xml"}

    response = await client.post("/fhir/Encounter", content=r5, headers=headers)

    assert response.status_code == 422
    assert [issue[2] for issue in issues(response)] == ["Encounter.actualPeriod"]
    assert writer.published == [] and len(writer.dead_letters) == 1


def xml_transaction(*resources: bytes) -> bytes:
    entries = b"".join(
        b"<entry><resource>" + resource + b"</resource>"
        b'<request><method value="POST"/><url value="Encounter"/></request></entry>'
        for resource in resources
    )
    return (
        b'<Bundle xmlns="http://hl7.org/fhir"><type value="transaction"/>' + entries + b"</Bundle>"
    )


ENCOUNTER_ELEMENT = XML_ENCOUNTER.split(b"?>", 1)[1].strip()
#: R4 has no `valueQuantity` with a text value: fhir.resources refuses this Observation.
BROKEN_OBSERVATION = (
    b'<Observation xmlns="http://hl7.org/fhir"><status value="final"/><code><text value="x"/>'
    b'</code><valueQuantity><value value="abc"/></valueQuantity></Observation>'
)


async def test_an_xml_transaction_ignores_an_entry_it_does_not_map_as_its_json_twin_does(
    client: httpx.AsyncClient, writer: RecordingWriter
) -> None:
    headers = {**auth(RR8_KEY), "Content-Type": "application/fhir+xml"}
    body = xml_transaction(ENCOUNTER_ELEMENT, BROKEN_OBSERVATION)

    response = await client.post("/fhir", content=body, headers=headers)

    assert response.status_code == 200, response.text
    assert [e["event_id"] for e in writer.events()] == ["enc-x1:admission"]
    assert ("information", "informational", "Bundle.entry[1]", None) in accepted_issues(response)


async def test_an_invalid_encounter_in_an_xml_transaction_is_refused_naming_its_entry(
    client: httpx.AsyncClient, writer: RecordingWriter
) -> None:
    broken = ENCOUNTER_ELEMENT.replace(b"<period>", b"<actualPeriod>").replace(
        b"</period>", b"</actualPeriod>"
    )
    headers = {**auth(RR8_KEY), "Content-Type": "application/fhir+xml"}

    response = await client.post(
        "/fhir", content=xml_transaction(ENCOUNTER_ELEMENT, broken), headers=headers
    )

    assert response.status_code == 422
    assert issues(response)[0][2] == "Bundle.entry[1].resource.actualPeriod"
    assert writer.published == []


async def test_uk_cores_inpatient_encounter_with_its_patient_trust_and_ward_over_http(
    client: httpx.AsyncClient, writer: RecordingWriter
) -> None:
    """UK Core's own examples, byte for byte, in one XML transaction as a trust's EPR posts
    them: the NHS number from the Patient, RR8 from the Organization, the ward's name from the
    Location, the admission method and destination from UK Core's extension and code system."""
    body = corpus_transaction(
        "ukcore__UKCore-Patient-RichardSmith-Example.xml",
        "ukcore-2025__UKCore-Organization-LeedsTeachingHospital-Example.xml",
        "ukcore-2025__UKCore-Location-HospitalSJUH-Example.xml",
        "ukcore-2025__UKCore-Location-CardiologySJUH-Example.xml",
        "ukcore-2025__UKCore-Encounter-InpatientEncounter-Example.xml",
    )
    headers = {**auth(RR8_KEY), "Content-Type": "application/fhir+xml"}

    response = await client.post("/fhir", content=body, headers=headers)

    assert response.status_code == 200, response.text
    admission, discharge = writer.events()
    assert admission["patient"] == {"nhs_number": "9912003888"}
    assert {admission["source"], discharge["source"]} == {"RR8/fhir"}
    assert (admission["service"], admission["unit"]) == ("lth-wards", "CARDIOLOGY SJUH")
    assert (admission["occurred_at"], admission["admission_method"]) == (
        "2019-12-10T13:00:00+00:00",
        "elective",
    )
    assert (discharge["occurred_at"], discharge["destination"]) == (
        "2019-12-11T13:00:00+00:00",
        "usual_residence",
    )


async def test_fhir_converters_discharge_over_http_ends_the_stay_with_a_warning(
    client: httpx.AsyncClient, writer: RecordingWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """microsoft/FHIR-Converter's conversion of an ADT^A03, byte for byte but for the batch
    posted as a transaction: no location has a period. Refused whole for want of the move's
    time, the discharge was lost and the patient kept the bed; now 200, admitted to and
    discharged from PV1-3's ward, and the sender told which time the move lacks."""
    wards = [
        LocationRule(location="HUH AE OMU", service="lth-wards"),
        LocationRule(location="4 East*", service="lth-toc-hub"),
    ]
    profile = MappingProfile(organisation="RR8", locations=wards)
    monkeypatch.setattr(fhir_router, "mapping_profiles", lambda request: {"RR8": profile})
    document = json.loads((CORPUS / "ms-fhir-converter__ADT-A03-02-expected.json").read_bytes())
    headers = {**auth(RR8_KEY), "Content-Type": "application/fhir+json"}

    response = await client.post("/fhir", json=document | {"type": "transaction"}, headers=headers)

    assert response.status_code == 200, response.text
    events = [(e["event_type"], e["service"], e["occurred_at"]) for e in writer.events()]
    assert events == [
        ("admission", "lth-wards", "2015-02-08T15:54:19+05:30"),
        ("discharge", "lth-wards", "2015-02-09T15:54:19+05:30"),
    ]
    untimed = "Bundle.entry[42].resource.location[1].period.start"
    assert ("warning", "informational", untimed, None) in accepted_issues(response)


DA_VINCI_ADMIT = CORPUS / "davinci-alerts__admit-notification-message-bundle-01.json"


async def test_a_da_vinci_admit_notification_is_processed_as_a_message(
    client: httpx.AsyncClient, writer: RecordingWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Da Vinci Unsolicited Notifications send an admission as a FHIR message (Bundle type
    # message, MessageHeader first, the Encounter its focus): it was refused at Bundle.type.
    er = MappingProfile(
        organisation="RR8", locations=[LocationRule(location="HOLY*", service="lth-ed")]
    )
    monkeypatch.setattr(fhir_router, "mapping_profiles", lambda request: {"RR8": er})
    headers = {**auth(RR8_KEY), "Content-Type": "application/fhir+json"}
    message = DA_VINCI_ADMIT.read_bytes()

    processed = await client.post("/fhir/$process-message", content=message, headers=headers)

    assert processed.status_code == 200, processed.text
    [attendance, withdrawn] = writer.events()
    assert (attendance["event_type"], attendance["service"]) == ("attendance", "lth-ed")
    assert attendance["event_id"] == "Elden718Halvorson12420181021T2122150700:attendance"
    # Still in the department (in-progress, dated): a departure an earlier version said is undone.
    assert (withdrawn["cancels_event_id"], withdrawn["if_present"]) == (
        "Elden718Halvorson12420181021T2122150700:attendance:departure",
        True,
    )
    assert ("information", "informational", "Bundle.entry[0]", None) in accepted_issues(processed)

    # Posted where a transaction goes, it is refused naming the endpoint it belongs to.
    posted = await client.post("/fhir", content=message, headers=headers)
    assert posted.status_code == 422
    assert "POST /fhir/$process-message" in posted.json()["issue"][0]["diagnostics"]


async def test_a_message_without_its_message_header_first_is_refused(
    client: httpx.AsyncClient, writer: RecordingWriter
) -> None:
    document = json.loads(DA_VINCI_ADMIT.read_bytes())
    document["entry"] = document["entry"][1:]
    headers = {**auth(RR8_KEY), "Content-Type": "application/fhir+json"}

    response = await client.post("/fhir/$process-message", json=document, headers=headers)

    assert response.status_code == 422
    assert ("error", "invalid", "Bundle.entry[0].resource", "invalid_fhir") in issues(response)
    assert writer.published == [] and len(writer.dead_letters) == 1


async def test_fhir_converters_a13_in_a_stamped_bundle_withdraws_the_discharge(
    client: httpx.AsyncClient, writer: RecordingWriter
) -> None:
    # FHIR-Converter's A13 (a discharge cancelled) is the Encounter back in progress with no
    # meta.lastUpdated, in a Bundle stamped with the message's time: it withdrew nothing, and
    # the patient, back in the bed, stayed discharged.
    headers = {**auth(RR8_KEY), "Content-Type": "application/fhir+json"}
    back = encounter(
        **{"class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"}}
    )
    stamped = bundle(back) | {"timestamp": "2025-03-12T08:00:00+00:00"}

    response = await client.post("/fhir", json=stamped, headers=headers)

    assert response.status_code == 200, response.text
    withdrawn = [e for e in writer.events() if e["event_type"] == "cancellation"]
    assert [(e["cancels_event_id"], e["if_present"]) for e in withdrawn] == [
        ("SPELL-9:discharge", True)
    ]
    assert withdrawn[0]["occurred_at"].startswith("2025-03-12T08:00:00")
    # Without the stamp, or stamped before the stay began (FHIR-Converter's samples stamp 1989
    # on a 2015 visit: a clock that says nothing), it says nothing of any discharge.
    for unstated in (bundle(back), bundle(back) | {"timestamp": "1989-08-18T14:41:00+05:30"}):
        writer.published.clear()
        await client.post("/fhir", json=unstated, headers=headers)
        assert not [e for e in writer.events() if e["event_type"] == "cancellation"]
