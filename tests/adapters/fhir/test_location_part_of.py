"""A bed or room that is part of a ward. HL7's V2-to-FHIR IG recommends putting the most granular
location of PV1-3 in Encounter.location and chaining the less granular ones to it with
Location.partOf (mappings/segments, PV1[Encounter], PV1-3); a trust's mapping profile names its
wards. A location no rule places is placed by the first place it is part of that one does, and
named as that place (the ward a bed manager knows the patient by)."""

from __future__ import annotations

from typing import Any

from tests.adapters.fhir.encounters import encounter
from tests.adapters.fhir.test_real_feeds import RR8_PROFILE, entry, examined, refusal, transaction


def location(logical_id: str, name: str, part_of: str | None = None) -> dict[str, Any]:
    resource: dict[str, Any] = {"resourceType": "Location", "id": logical_id, "name": name}
    return resource | ({"partOf": {"reference": part_of}} if part_of else {})


def at(reference: str) -> dict[str, Any]:
    return encounter(location=[{"location": {"reference": reference}, "status": "active"}])


def test_a_bed_in_a_ward_the_profile_names_is_placed_in_the_ward() -> None:
    document = transaction(
        entry(location("ward", "CARDIOLOGY SJUH")),
        entry(location("room-4", "Room 4", part_of="Location/ward")),
        entry(location("bed-2", "Bed 2", part_of="Location/room-4")),
        entry(at("Location/bed-2")),
    )

    result = examined(document, {"RR8": RR8_PROFILE})

    [admission] = [accepted.event for accepted in result.events]
    assert (admission["service"], admission["unit"]) == ("lth-wards", "CARDIOLOGY SJUH")


def test_a_bed_in_no_ward_the_profile_names_is_still_refused_naming_it() -> None:
    document = transaction(
        entry(location("ward", "Ward 99")),
        entry(location("bed-2", "Bed 2", part_of="Location/ward")),
        entry(at("Location/bed-2")),
    )

    answer = refusal(document, {"RR8": RR8_PROFILE})

    assert answer.issues[0].expression == (
        "Bundle.entry[2].resource.location[0].location.identifier.value"
    )
