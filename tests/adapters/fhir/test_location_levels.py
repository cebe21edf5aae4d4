"""One place given at several levels at once. HL7's V2-to-FHIR IG maps an ADT message's PV1-3
(point of care, room, bed) to three Encounter.location entries, each with its physicalType, none
with a period (its ADT^A01 sample, samples/fhir-bundles/FHIR_bundle.hl7_ADT_A01.json), and R4
says physicalType is "usually the level in the location hierarchy". Entries of one status and
one period whose physicalTypes differ are one stay at the ward level, not moves between them."""

from __future__ import annotations

from typing import Any

from flowsight.adapters.profile import LocationRule, MappingProfile
from tests.adapters.fhir.encounters import bodies, encounter, mapped_of
from tests.adapters.fhir.test_real_feeds import examined, refusal

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


# Germany's Medical Informatics Initiative gives a department contact's room and bed with a
# period and its ward with none, all active (tests/conformance/corpus/fhir/mii-fall__Encounter-
# mii-exa-fall-kontakt-gesundheitseinrichtung-2.json): three levels of one place.
MII_WARD = "RHC-06"


def mii_levels(status: str, start: str) -> list[dict[str, Any]]:
    period = {"start": start}
    levels = [
        level("RHC-06-210b", "ro", status=status, period=period),
        level("RHC-06-210b-02", "bd", status=status, period=period),
        level(MII_WARD, "wa", status=status),
    ]
    for entry in levels:
        entry["location"]["identifier"] = {"value": entry["location"]["display"]}
    return levels


def mii_profile() -> dict[str, MappingProfile]:
    rule = LocationRule(location=MII_WARD, service="lth-wards")
    return {"RR8": MappingProfile(organisation="RR8", locations=[rule])}


def test_a_ward_given_without_a_period_beside_its_timed_room_and_bed_is_their_level() -> None:
    document = encounter(location=mii_levels("active", "2025-03-10T09:40:00+00:00"))

    result = examined(document, mii_profile())

    [admission] = [accepted.event for accepted in result.events]
    assert (admission["service"], admission["unit"]) == ("lth-wards", MII_WARD)
    assert result.notes == []


def test_a_place_so_given_is_dated_by_its_timed_levels() -> None:
    earlier = mii_levels("completed", "2025-03-10T09:40:00+00:00")
    later = level("Ward 12", "wa", status="active", period={"start": "2025-03-11T08:00:00+00:00"})
    later["location"]["identifier"] = {"value": "lth-toc-hub"}

    result = examined(encounter(location=[*earlier, later]), mii_profile())

    transfer = result.events[1].event
    assert (transfer["event_type"], transfer["from_service"]) == ("transfer", "lth-wards")
    assert transfer["occurred_at"] == "2025-03-11T08:00:00+00:00"
    assert result.notes == []


def test_a_refused_start_of_such_a_place_names_the_level_that_gave_it() -> None:
    document = encounter(location=mii_levels("active", "2025-03-09T09:40:00+00:00"))

    answer = refusal(document, mii_profile())

    assert answer.issues[0].expression == "Encounter.location[0].period.start"
