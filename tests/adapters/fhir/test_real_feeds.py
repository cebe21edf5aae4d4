"""Real FHIR feeds arrive intact (issue 12, point 11): a patient given by reference, Bundles that
carry more than Encounters, Encounters with only an id, finished without a disposition, locations
that are the trust's own and mapped by its profile, XML, and planned or reserved locations."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from flowsight.adapters.catalogue import load_catalogue
from flowsight.adapters.fhir.intake import Reading, examine_bundle, examine_encounter, resource_of
from flowsight.adapters.fhir.outcome import Answer, Examined
from flowsight.adapters.profile import LocationRule, MappingProfile
from flowsight.schemas.events import organisation_of
from flowsight.services.validation import ValidationContext
from flowsight.settings import DEFAULT_CATALOGUE
from tests.adapters.fhir.encounters import NHS_NUMBER, NOW, XML_ENCOUNTER, encounter, finished

CONTEXT = ValidationContext(load_catalogue(DEFAULT_CATALOGUE), b"k" * 32, NOW - NOW)
MRN = "https://fhir.rr8.example/Id/mrn"
NHS = "https://fhir.nhs.uk/Id/nhs-number"
RR8_PROFILE = MappingProfile(
    organisation="RR8",
    locations=[
        LocationRule(location="CARDIO*", service="lth-wards"),
        LocationRule(location="*Emergency*", service="lth-ed"),
    ],
)


def own(organisation: str, _: frozenset[str]) -> str:
    return organisation_of(organisation) if isinstance(organisation, str) else "RR8"


def reading(profiles: dict[str, MappingProfile] | None = None) -> Reading:
    return Reading(
        frozenset({"RR8"}), CONTEXT, datetime(2025, 3, 16, tzinfo=UTC), own, profiles or {}
    )


def examined(
    document: dict[str, Any], profiles: dict[str, MappingProfile] | None = None
) -> Examined:
    examine = examine_bundle if document["resourceType"] == "Bundle" else examine_encounter
    result = examine(document, b"", reading(profiles))
    assert isinstance(result, Examined), result
    return result


def refusal(document: dict[str, Any], profiles: dict[str, MappingProfile] | None = None) -> Answer:
    examine = examine_bundle if document["resourceType"] == "Bundle" else examine_encounter
    result = examine(document, b"", reading(profiles))
    assert isinstance(result, Answer), result
    return result


def transaction(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "transaction", "entry": list(entries)}


def entry(resource: dict[str, Any], full_url: str | None = None) -> dict[str, Any]:
    found = {"resource": resource, "request": {"method": "POST", "url": resource["resourceType"]}}
    return found | ({"fullUrl": full_url} if full_url else {})


def a_patient(**changes: Any) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": "pat-1",
        "identifier": [
            {"system": MRN, "value": "MRN-77"},
            {"system": NHS, "value": NHS_NUMBER},
        ],
    } | changes


# -- the patient given by reference ------------------------------------------------------------


@pytest.mark.parametrize(
    ("full_url", "reference"),
    [
        (
            "urn:uuid:d5582579-7193-4866-5560-a01e723b6552",
            "urn:uuid:d5582579-7193-4866-5560-a01e723b6552",
        ),
        (None, "Patient/pat-1"),
        ("https://pas.rr8.example/fhir/Patient/pat-1", "Patient/pat-1"),
        (
            "https://pas.rr8.example/fhir/Patient/pat-1",
            "https://pas.rr8.example/fhir/Patient/pat-1",
        ),
    ],
    ids=["urn-uuid", "relative", "relative-to-restful-full-url", "absolute"],
)
def test_a_subject_referring_to_a_patient_in_the_transaction_takes_its_nhs_number(
    full_url: str | None, reference: str
) -> None:
    document = transaction(
        entry(a_patient(), full_url), entry(encounter(subject={"reference": reference}))
    )

    [admission] = examined(document).events

    # The MRN beside it links what the source sent before the number was traced.
    assert admission.event["patient"] == {
        "nhs_number": NHS_NUMBER,
        "local_id": "MRN-77",
        "id_system": MRN,
    }


def test_a_contained_patient_without_an_nhs_number_gives_its_local_identifier() -> None:
    patient = a_patient(
        id="p",
        identifier=[
            {"use": "old", "system": MRN, "value": "OLD-1"},
            {"system": MRN, "value": "MRN-77"},
        ],
    )
    document = encounter(contained=[patient], subject={"reference": "#p"})

    [admission] = examined(document).events

    assert admission.event["patient"] == {"local_id": "MRN-77", "id_system": MRN}


@pytest.mark.parametrize(
    ("reference", "named"),
    [
        ("#missing", "'#missing'"),
        # A Patient's id may be the NHS number (the PDS FHIR API's are): only its shape is named.
        ("Patient/elsewhere", "'Patient/…'"),
        (
            f"https://api.service.nhs.uk/personal-demographics/FHIR/R4/Patient/{NHS_NUMBER}",
            "R4/Patient/…'",
        ),
        ("Patient?identifier=https://fhir.nhs.uk/Id/nhs-number", "'Patient?…' (a conditional"),
    ],
)
def test_a_subject_reference_that_cannot_be_resolved_is_refused_naming_it(
    reference: str, named: str
) -> None:
    answer = refusal(encounter(subject={"reference": reference}))

    [issue] = answer.issues
    assert (issue.expression, issue.reason) == ("Encounter.subject.reference", "missing_field")
    assert named in issue.diagnostics
    assert "elsewhere" not in issue.diagnostics
    assert NHS_NUMBER not in issue.diagnostics
    assert NHS_NUMBER not in answer.dead_letters[0][1].message


def test_a_subject_reference_to_a_patient_without_identifiers_is_refused() -> None:
    document = transaction(
        entry(a_patient(identifier=[{"value": "no-system"}])),
        entry(encounter(subject={"reference": "Patient/pat-1"})),
    )

    issue, ignored_patient = refusal(document).issues

    assert issue.expression == "Bundle.entry[1].resource.subject.reference"
    assert "neither an NHS number" in issue.diagnostics
    assert ignored_patient.severity == "information"


# -- entries other than Encounters -------------------------------------------------------------


def test_entries_other_than_encounters_are_ignored_and_said_to_be() -> None:
    condition = {
        "resourceType": "Condition",
        "subject": {"reference": "urn:uuid:1"},
    }
    document = transaction(
        entry(a_patient(), "urn:uuid:1"),
        entry(encounter(subject={"reference": "urn:uuid:1"})),
        entry(condition),
        {"request": {"method": "DELETE", "url": "Patient/9"}},
    )

    result = examined(document)

    assert [e.event["event_type"] for e in result.events] == ["admission"]
    assert [(n.severity, n.expression) for n in result.notes] == [
        ("information", "Bundle.entry[0]"),
        ("information", "Bundle.entry[2]"),
        ("information", "Bundle.entry[3]"),
    ]
    assert "Condition" in result.notes[1].diagnostics
    # Each says what its kind is read for: a Condition is not a Patient.
    assert "subject of an Encounter" in result.notes[0].diagnostics
    assert "Patient" not in result.notes[1].diagnostics


def test_a_transaction_with_no_encounter_publishes_nothing_and_fails_nothing() -> None:
    result = examined(transaction(entry(a_patient())))

    assert result.events == []
    assert "nothing published" in result.notes[-1].diagnostics


# -- the Encounter's identity ------------------------------------------------------------------


def test_an_encounter_without_an_identifier_is_its_own_episode_by_its_id() -> None:
    [admission] = examined(encounter(identifier=None)).events

    assert admission.event["episode_id"] == "enc-7781"
    assert admission.event["event_id"] == "enc-7781:admission"


# -- discharge without a disposition -----------------------------------------------------------


def test_a_finished_encounter_without_a_disposition_is_a_discharge_to_other_with_a_warning() -> (
    None
):
    document = finished()
    del document["hospitalization"]["dischargeDisposition"]

    result = examined(document)

    assert result.events[-1].event["destination"] == "other"
    [warning] = result.notes
    assert warning.severity == "warning"
    assert warning.expression == "Encounter.hospitalization.dischargeDisposition"


# -- locations through the mapping profile -----------------------------------------------------


def located(document: dict[str, Any], profile: MappingProfile = RR8_PROFILE) -> Examined:
    return examined(document, {"RR8": profile})


def test_a_trust_location_is_placed_by_the_profile_rule_with_its_display_as_unit() -> None:
    document = encounter(
        location=[{"location": {"reference": "Location/CARDIOLOGY-SJUH", "display": "Ward 12"}}]
    )

    [admission] = located(document).events

    assert (admission.event["service"], admission.event["unit"]) == ("lth-wards", "Ward 12")


def test_a_location_is_placed_by_its_contained_or_bundled_location_name_or_identifier() -> None:
    ward = {"resourceType": "Location", "id": "w", "name": "Cardiology ward 12"}
    contained = encounter(contained=[ward], location=[{"location": {"reference": "#w"}}])
    department = {
        "resourceType": "Location",
        "id": "loc-1",
        "identifier": [{"system": "https://rr8.example/loc", "value": "SJUH Emergency Department"}],
    }
    bundled = transaction(
        entry(department, "urn:uuid:loc-1"),
        entry(encounter(location=[{"location": {"reference": "urn:uuid:loc-1"}}])),
    )

    assert [e.event["service"] for e in located(contained).events] == ["lth-wards"]
    assert [e.event["service"] for e in located(bundled).events] == ["lth-ed"]


def test_a_conditional_location_reference_is_read_by_its_identifier() -> None:
    reference = "Location?identifier=https://rr8.example/loc|CARDIO-7"
    document = encounter(location=[{"location": {"reference": reference}}])

    [admission] = located(document).events

    assert admission.event["service"] == "lth-wards"


def test_an_unmapped_location_goes_to_the_default_service_with_a_warning() -> None:
    profile = RR8_PROFILE.model_copy(update={"default_service": "lth-wards"})
    document = encounter(location=[{"location": {"reference": "Location/ONC-3", "display": "Onc"}}])

    result = located(document, profile)

    assert result.events[0].event["service"] == "lth-wards"
    [warning] = result.notes
    assert warning.expression == "Encounter.location[0].location.identifier.value"
    assert "'ONC-3'" in warning.diagnostics and "default service" in warning.diagnostics


def test_an_unmapped_location_without_a_default_is_refused_naming_it() -> None:
    document = encounter(location=[{"location": {"reference": "Location/ONC-3"}}])

    [issue] = refusal(document, {"RR8": RR8_PROFILE}).issues

    assert (issue.expression, issue.reason) == (
        "Encounter.location[0].location.identifier.value",
        "unknown_service",
    )
    assert "'ONC-3'" in issue.diagnostics and "no location rule" in issue.diagnostics


def test_a_catalogue_service_id_still_places_a_location_whatever_the_profile() -> None:
    profile = RR8_PROFILE.model_copy(update={"default_service": "lth-toc-hub"})

    result = located(encounter(), profile)

    assert result.events[0].event["service"] == "lth-wards"
    assert result.notes == []


# -- planned and reserved locations ------------------------------------------------------------


def test_planned_and_reserved_locations_are_not_moves() -> None:
    document = encounter(
        location=[
            {
                "location": {"identifier": {"value": "lth-wards"}, "display": "Ward 12"},
                "status": "active",
            },
            {
                "location": {"identifier": {"value": "lth-wards"}, "display": "Ward 14"},
                "status": "reserved",
            },
            {"location": {"identifier": {"value": "lth-toc-hub"}}, "status": "planned"},
        ]
    )

    assert [e.event["event_type"] for e in examined(document).events] == ["admission"]


# -- XML -----------------------------------------------------------------------------------------


def test_an_xml_encounter_is_read_as_its_json_twin() -> None:
    document = resource_of(XML_ENCOUNTER, "Encounter", xml=True)
    assert isinstance(document, dict)

    [admission] = examined(document).events

    assert admission.event["event_id"] == "enc-x1:admission"
    assert admission.event["patient"] == {"nhs_number": NHS_NUMBER}


def test_comments_and_processing_instructions_in_xml_are_no_part_of_the_resource() -> None:
    # NHS England's BaRS examples open `<Encounter> <!-- Senders Encounter -->`: a comment before
    # `<id>` was read as the id's extension and the resource refused as not FHIR R4.
    body = (
        XML_ENCOUNTER.replace(b"<id ", b"<!-- Senders Encounter --><?pas x?>\n  <id ")
        .replace(b"<status ", b"<!-- the visit's status -->\n  <status ")
        .replace(b"</Encounter>", b"<!-- end --></Encounter>")
    )
    assert body.count(b"<!--") == 3
    assert resource_of(body, "Encounter", xml=True) == resource_of(
        XML_ENCOUNTER, "Encounter", xml=True
    )


@pytest.mark.parametrize(
    "body",
    [
        b'<?xml version="1.0"?><!DOCTYPE Encounter [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        b'<Encounter xmlns="http://hl7.org/fhir"><id value="&b;"/></Encounter>',
        b'<?xml version="1.0"?><!DOCTYPE Encounter [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<Encounter xmlns="http://hl7.org/fhir"><id value="&x;"/></Encounter>',
        b"<Encounter><id value='not-in-the-fhir-namespace'/></Encounter>",
        b"<Encounter",
    ],
    ids=["entity-expansion", "external-entity", "no-namespace", "not-xml"],
)
def test_xml_with_a_doctype_or_outside_fhir_is_a_400(body: bytes) -> None:
    answer = resource_of(body, "Encounter", xml=True)

    assert isinstance(answer, Answer)
    assert answer.status == 400
    assert answer.dead_letters[0][0] == body


def test_an_xml_bundle_over_the_entry_limit_is_refused_before_its_entries_are_read() -> None:
    from flowsight.adapters.fhir.envelope import FHIR_BUNDLE_MAX

    entry_xml = b"<entry><resource><Basic><code><text value='x'/></code></Basic></resource></entry>"
    body = (
        b'<Bundle xmlns="http://hl7.org/fhir"><type value="transaction"/>'
        + entry_xml * (FHIR_BUNDLE_MAX + 1)
        + b"</Bundle>"
    )

    answer = resource_of(body, "Bundle", xml=True)

    assert isinstance(answer, Answer)
    assert answer.status == 413
