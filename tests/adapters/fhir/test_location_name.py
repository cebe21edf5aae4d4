"""The unit a bed manager reads is the place the Encounter refers to. When that Location is sent
with the Encounter (contained, or in the same transaction), its own name says what the place is
called; `reference.display` is "plain text narrative that identifies the resource in addition to
the resource reference" (FHIR R4, Reference.display), written by the referrer, and may name
another level of the place (microsoft/fhir-server's US Core Inferno sample names the hospital) or
an old name. Without the Location, the display is all there is."""

from __future__ import annotations

import json
from typing import Any

from flowsight.adapters.profile import LocationRule, MappingProfile
from tests.adapters.fhir.encounters import CORPUS, encounter
from tests.adapters.fhir.test_real_feeds import (
    RR8_PROFILE,
    entry,
    examined,
    refusal,
    transaction,
)

WARD = {"resourceType": "Location", "id": "w12", "name": "Cardiology Ward 12"}


def at(reference: str, display: str | None = "Leeds General Infirmary") -> dict[str, Any]:
    said = {"reference": reference} | ({"display": display} if display else {})
    return {"location": said, "status": "active"}


def units(document: dict[str, Any], profile: MappingProfile = RR8_PROFILE) -> list[str]:
    return [accepted.event["unit"] for accepted in examined(document, {"RR8": profile}).events]


def test_a_bundled_locations_own_name_is_the_unit_not_the_references_display() -> None:
    document = transaction(
        entry(WARD, "Location/w12"), entry(encounter(location=[at("Location/w12")]))
    )

    assert units(document) == ["Cardiology Ward 12"]


def test_a_contained_locations_own_name_is_the_unit_not_the_references_display() -> None:
    document = encounter(contained=[WARD], location=[at("#w12")])

    assert units(document) == ["Cardiology Ward 12"]


def test_without_the_location_or_its_name_the_display_is_the_unit() -> None:
    unnamed = {"resourceType": "Location", "id": "w12", "identifier": [{"value": "CARDIO-12"}]}
    on_a_server = encounter(location=[at("Location/CARDIO-12", "Ward 12")])
    without_name = transaction(
        entry(unnamed, "Location/w12"), entry(encounter(location=[at("Location/w12", "Ward 12")]))
    )

    assert units(on_a_server) == units(without_name) == ["Ward 12"]


def test_the_us_core_inferno_sample_shows_its_ward_not_the_hospital_its_display_names() -> None:
    body = (CORPUS / "ms-fhir-server__V3.1.1_USCoreCompliantResources.json").read_bytes()
    document = json.loads(body.decode("utf-8-sig"))
    for found in document["entry"]:  # the sample's periods are dates: given a time, as R4 asks
        if found["resource"]["resourceType"] == "Encounter":
            found["resource"]["period"] = {"start": "2013-03-11T09:00:00+00:00"}
    profile = MappingProfile(
        organisation="RR8", locations=[LocationRule(location="B1-S.F2", service="lth-wards")]
    )

    found = examined(document, {"RR8": profile}).events

    admissions = [a.event for a in found if a.event["event_type"] == "admission"]
    assert admissions  # Encounters A, B and C, each at Location/Location<X>
    assert {admission["unit"] for admission in admissions} == {"South Wing, second floor"}


# -- a unit refused names the element its name was read from ----------------------------------

#: A ward name with a control character (BEL), which a one-line unit takes none of.
MISNAMED = {"resourceType": "Location", "id": "w12", "name": "Cardiology\u0007Ward 12"}


def refused_at(document: dict[str, Any]) -> tuple[str | None, str | None]:
    [issue, *_] = refusal(document, {"RR8": RR8_PROFILE}).issues
    return issue.reason, issue.expression


def test_a_contained_locations_name_refused_is_named_not_the_display() -> None:
    document = encounter(contained=[MISNAMED], location=[at("#w12")])

    assert refused_at(document) == ("invalid_field", "Encounter.contained[0].name")


def test_a_bundled_locations_name_refused_names_its_entry_not_the_encounters_display() -> None:
    document = transaction(
        entry(MISNAMED, "Location/w12"), entry(encounter(location=[at("Location/w12")]))
    )

    assert refused_at(document) == ("invalid_field", "Bundle.entry[0].resource.name")


def test_a_ward_named_up_the_part_of_chain_refused_names_the_wards_entry() -> None:
    ward = MISNAMED | {"id": "ward", "identifier": [{"value": "CARDIO-12"}]}
    bed = {"resourceType": "Location", "id": "bed-2", "partOf": {"reference": "Location/ward"}}
    document = transaction(
        entry(ward), entry(bed), entry(encounter(location=[at("Location/bed-2", None)]))
    )

    assert refused_at(document) == ("invalid_field", "Bundle.entry[0].resource.name")


def test_a_display_refused_is_still_named_as_the_display() -> None:
    document = encounter(location=[at("Location/CARDIO-12", "Ward\u000712")])

    assert refused_at(document) == ("invalid_field", "Encounter.location[0].location.display")


def test_without_a_profile_a_site_code_is_no_service_and_is_refused_as_one() -> None:
    # NHS England's ADT examples name the place by its ODS site code: no service id has that shape,
    # and the sender is told to map it, not shown the contract's pattern.
    site = {"identifier": {"system": "https://fhir.nhs.uk/Id/ods-site-code", "value": "RCB55"}}
    document = encounter(location=[{"location": site, "status": "active"}])

    [issue, *_] = refusal(document).issues

    assert (issue.reason, issue.expression) == (
        "unknown_service",
        "Encounter.location[0].location.identifier.value",
    )
    assert "no service 'RCB55' in the catalogue" in issue.diagnostics
    assert "mapping profile" in issue.diagnostics and "pattern" not in issue.diagnostics
