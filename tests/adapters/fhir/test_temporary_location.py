"""A temporary location is not a move. HL7's V2-to-FHIR IG maps PV1-11 (temporary location: "a
location other than the assigned location required for a temporary period of time (e.g., OR,
operating theatre, etc.)") to an Encounter.location entry, status active, with the extension
subject-locationClassification valued `temporary`, and PV1-43 (prior temporary location) the
same, completed (mappings/segments, PV1[Encounter]); microsoft/FHIR-Converter's HL7 v2 templates
still write the IG's earlier marker, temporary-location valued true. The patient keeps the
assigned bed: read as a stay, a trip to theatre was a transfer out of the ward, and the bed
looked free."""

from __future__ import annotations

import json
from typing import Any

from flowsight.adapters.profile import MappingProfile
from tests.adapters.fhir.encounters import CORPUS, bodies, encounter, finished, problem_of
from tests.adapters.fhir.test_real_feeds import examined

CLASSIFICATION = "http://hl7.org/fhir/StructureDefinition/subject-locationClassification"
WARD = {
    "location": {"identifier": {"value": "lth-wards"}, "display": "Ward 12"},
    "status": "active",
    "period": {"start": "2025-03-10T09:40:00+00:00"},
}


def temporary(
    display: str, status: str = "active", start: str = "2025-03-11T10:00:00+00:00"
) -> dict[str, Any]:
    """An entry as the IG writes PV1-11 (active) or PV1-43 (completed). The IG gives the system
    as " http://hl7.org/fhir/ValueSet/subject-location", a space and all: only the code counts."""
    coding = {"system": " http://hl7.org/fhir/ValueSet/subject-location", "code": "temporary"}
    kind = {"coding": [coding]}
    return {
        "extension": [{"url": CLASSIFICATION, "valueCodeableConcept": kind}],
        "location": {"identifier": {"value": "lth-community-beds"}, "display": display},
        "status": status,
        "period": {"start": start},
    }


def kinds(document: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    return [(e["event_type"], e["service"], e.get("unit")) for e in bodies(document)]


def test_a_patient_in_theatre_keeps_the_ward_bed() -> None:
    document = encounter(location=[WARD, temporary("Theatre 3")])

    assert kinds(document) == [("admission", "lth-wards", "Ward 12")]


def test_a_prior_temporary_location_is_no_transfer_either() -> None:
    document = encounter(location=[temporary("X-ray", "completed"), WARD])

    assert kinds(document) == [("admission", "lth-wards", "Ward 12")]


def test_the_patient_is_discharged_from_the_ward_not_the_temporary_location() -> None:
    document = finished(location=[WARD, temporary("Theatre 3")])

    discharge = bodies(document)[-1]
    assert (discharge["event_type"], discharge["service"]) == ("discharge", "lth-wards")


def test_an_encounter_only_at_a_temporary_location_is_refused_naming_its_locations() -> None:
    rejected = problem_of(encounter(location=[temporary("Theatre 3")]))

    assert (rejected.reason, rejected.field) == ("missing_field", "Encounter.location")
    assert "temporary" in rejected.message


#: FHIR-Converter's conversion of an ADT^A01 (a batch of PUTs), in the conformance corpus.
CONVERTED = CORPUS / "ms-fhir-converter__ADT-A01-02-expected.json"


def converted() -> dict[str, Any]:
    """The converter's batch as the transaction an integrator posts it as."""
    document: dict[str, Any] = json.loads(CONVERTED.read_text("utf-8"))
    return document | {"type": "transaction"}


def converted_encounter(document: dict[str, Any]) -> dict[str, Any]:
    [found] = [
        e["resource"] for e in document["entry"] if e["resource"]["resourceType"] == "Encounter"
    ]
    return found


def test_the_converters_temporary_location_marker_is_no_move_either() -> None:
    marker = converted_encounter(converted())["location"][3]["extension"]
    theatre = temporary("Theatre 3") | {"extension": marker}

    assert kinds(encounter(location=[WARD, theatre])) == [("admission", "lth-wards", "Ward 12")]


def test_the_converters_prior_temporary_location_is_not_read_as_a_transfer() -> None:
    """Its PV1-43 entry (completed, marked temporary, no period) was read as a stay, and the
    Encounter refused for want of the time of a transfer into it. What is left is the move from
    PV1-6 to PV1-3, which has no time either: left out, with a warning naming the time PV1-3's
    entry lacks (tests/adapters/fhir/test_untimed_moves.py), and no transfer published."""
    document = converted()
    anywhere = MappingProfile(organisation="RR8", default_service="lth-wards", locations=[])

    result = examined(document, {"RR8": anywhere})

    # Its Bundle's timestamp (1989) is before the stay (2015): no time to withdraw a discharge by.
    assert [e.event["event_type"] for e in result.events] == ["admission"]
    entry = document["entry"].index(
        next(e for e in document["entry"] if e["resource"]["resourceType"] == "Encounter")
    )
    untimed = [i.expression for i in result.notes if (i.expression or "").endswith(".start")]
    assert untimed == [f"Bundle.entry[{entry}].resource.location[0].period.start"]
