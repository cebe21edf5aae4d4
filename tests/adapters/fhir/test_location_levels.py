"""One place given at several levels at once. HL7's V2-to-FHIR IG maps an ADT message's PV1-3
(point of care, room, bed) to three Encounter.location entries, each with its physicalType, none
with a period (its ADT^A01 sample, samples/fhir-bundles/FHIR_bundle.hl7_ADT_A01.json), and R4
says physicalType is "usually the level in the location hierarchy". Entries of one status and
one period whose physicalTypes differ are one stay at the ward level, not moves between them."""

from __future__ import annotations

from typing import Any

from tests.adapters.fhir.encounters import bodies, encounter, mapped_of

PHYSICAL_TYPE = "http://terminology.hl7.org/CodeSystem/location-physical-type"


def level(display: str, code: str, **changes: Any) -> dict[str, Any]:
    """An entry as the V2-to-FHIR IG writes it: the level's physicalType, the PL component as
    the display."""
    kind = {"coding": [{"system": PHYSICAL_TYPE, "code": code}], "text": code}
    return {"physicalType": kind, "location": {"display": display}, **changes}


# The Encounter's locations of the IG's sample: PV1-3 (room 101, bed 01, point of care EMERG)
# and PV1-6, the prior location (room 103, bed 02, point of care EMERG), completed.
SAMPLE = [
    level("101", "ro"),
    level("01", "bd"),
    level("EMERG", "poc"),
    level("103", "ro", status="completed"),
    level("02", "bd", status="completed"),
    level("EMERG", "poc", status="completed"),
]


def test_the_levels_of_one_place_are_one_stay_at_its_ward() -> None:
    document = encounter(location=SAMPLE)
    for entry in document["location"]:
        entry["location"]["identifier"] = {"value": "lth-wards"}

    [admission] = bodies(document)

    assert (admission["service"], admission["unit"]) == ("lth-wards", "EMERG")
    assert mapped_of(document).notes == []


def test_a_ward_and_a_bed_from_the_same_moment_are_not_a_transfer() -> None:
    start = {"start": "2025-03-10T09:40:00+00:00"}
    ward = level("Ward 12", "wa", status="active", period=start)
    bed = level("Bed 3", "bd", status="active", period=start)
    for entry in (ward, bed):
        entry["location"]["identifier"] = {"value": "lth-wards"}

    events = bodies(encounter(location=[bed, ward]))

    assert [(e["event_type"], e.get("unit")) for e in events] == [("admission", "Ward 12")]


def test_levels_from_different_moments_are_still_moves() -> None:
    ward = level("Ward 12", "wa", status="completed", period={"start": "2025-03-10T09:40:00+00:00"})
    bed = level("Bed 3", "bd", status="active", period={"start": "2025-03-11T08:00:00+00:00"})
    for entry in (ward, bed):
        entry["location"]["identifier"] = {"value": "lth-wards"}

    events = bodies(encounter(location=[ward, bed]))

    assert [e["event_type"] for e in events] == ["admission", "transfer"]
