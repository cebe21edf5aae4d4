"""An Encounter's serviceProvider given as a reference to an Organization sent with it (UK Core's
inpatient Encounter refers to Organization/UKCore-Organization-LeedsTeachingHospital-Example,
whose identifier is the ODS code RR8): the organisation is that ODS code, so a key that
publishes for several organisations is not refused for want of a serviceProvider.identifier."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flowsight.adapters.catalogue import load_catalogue
from flowsight.adapters.fhir.intake import Reading, examine_bundle, examine_encounter, resource_of
from flowsight.adapters.fhir.outcome import Answer, Examined
from flowsight.adapters.profile import LocationRule, MappingProfile
from flowsight.schemas.events import organisation_of
from flowsight.services.validation import ValidationContext
from flowsight.settings import DEFAULT_CATALOGUE
from tests.adapters.fhir.encounters import NOW, corpus_transaction, encounter

PATIENT = "ukcore__UKCore-Patient-RichardSmith-Example.xml"
ORGANIZATION = "ukcore-2025__UKCore-Organization-LeedsTeachingHospital-Example.xml"
ENCOUNTER = "ukcore-2025__UKCore-Encounter-InpatientEncounter-Example.xml"
PROFILE = MappingProfile(
    organisation="RR8",
    locations=[
        LocationRule(location="UKCore-Location-CardiologySJUH-Example", service="lth-wards")
    ],
)


def posted(*files: str, organisations: frozenset[str]) -> Examined | Answer:
    """The files as one XML transaction posted by a key that publishes for `organisations`."""
    bundle = resource_of(corpus_transaction(*files), "Bundle", xml=True)
    assert isinstance(bundle, dict), bundle

    def publisher(source: object, allowed: frozenset[str]) -> str:
        claimed = organisation_of(source) if isinstance(source, str) else None
        return claimed if claimed in allowed else min(allowed)

    context = ValidationContext(
        load_catalogue(DEFAULT_CATALOGUE), b"k" * 32, datetime.min - datetime.min
    )
    now = datetime(2026, 1, 1, tzinfo=UTC)
    reading = Reading(organisations, context, now, publisher, {"RR8": PROFILE})
    return examine_bundle(bundle, b"", reading)


def test_a_service_provider_sent_in_the_transaction_names_the_organisation() -> None:
    result = posted(PATIENT, ORGANIZATION, ENCOUNTER, organisations=frozenset({"RR8", "RY6"}))

    assert isinstance(result, Examined), result
    assert {accepted.event["source"] for accepted in result.events} == {"RR8/fhir"}
    assert [accepted.event["event_type"] for accepted in result.events] == [
        "admission",
        "discharge",
    ]


def test_without_the_organization_a_key_for_several_organisations_still_needs_one() -> None:
    result = posted(PATIENT, ENCOUNTER, organisations=frozenset({"RR8", "RY6"}))

    assert isinstance(result, Answer)
    assert result.issues[0].expression == (
        "Bundle.entry[1].resource.serviceProvider.identifier.value"
    )


# Germany's Medical Informatics Initiative names a department contact's provider by its own
# department identifier (tests/conformance/corpus/fhir/mii-fall__Encounter-mii-exa-fall-kontakt-
# gesundheitseinrichtung-2.json): not an ODS code.
MII_DEPARTMENT = {
    "system": "http://medizininformatik-initiative.de/fhir/NamingSystem/Abteilungsidentifikator/MusterKrankenhaus",
    "value": "1500_ACHI",
}


def examined_for(document: dict[str, Any], organisations: frozenset[str]) -> Examined | Answer:
    context = ValidationContext(
        load_catalogue(DEFAULT_CATALOGUE), b"k" * 32, datetime.min - datetime.min
    )
    reading = Reading(organisations, context, NOW, lambda _, allowed: min(allowed), {})
    return examine_encounter(document, b"", reading)


def test_a_service_provider_identifier_of_another_system_is_no_ods_code() -> None:
    document = encounter(serviceProvider={"identifier": MII_DEPARTMENT})

    result = examined_for(document, frozenset({"RR8"}))

    assert isinstance(result, Examined), result
    assert [accepted.event["source"] for accepted in result.events] == ["RR8/fhir"]


def test_so_a_key_for_several_organisations_still_needs_an_ods_code() -> None:
    document = encounter(serviceProvider={"identifier": MII_DEPARTMENT})

    result = examined_for(document, frozenset({"RR8", "RY6"}))

    assert isinstance(result, Answer)
    assert (result.issues[0].reason, result.issues[0].expression) == (
        "missing_field",
        "Encounter.serviceProvider.identifier.value",
    )


def test_a_service_provider_identifier_without_a_system_is_still_its_ods_code() -> None:
    document = encounter(serviceProvider={"identifier": {"value": "RR8"}})

    result = examined_for(document, frozenset({"RR8", "RY6"}))

    assert isinstance(result, Examined), result
    assert [accepted.event["source"] for accepted in result.events] == ["RR8/fhir"]
