"""A location whose status is `completed` is one the patient has left (R4: "not to be used when
the patient is currently at the location"), so it came before any that is not. HL7's V2-to-FHIR
IG lists PV1-3, the current location, as location[1] (active) and PV1-6, the prior location,
after it as location[2] (completed), without periods (mappings/segments, PV1[Encounter]). When
not every location has a start to sort by, the completed ones are read first."""

from __future__ import annotations

from typing import Any

from tests.adapters.fhir.encounters import bodies, encounter, mapped_of

ADMITTED = "2025-03-10T09:40:00+00:00"
MOVED = "2025-03-11T08:00:00+00:00"


def at(ward: str, status: str, start: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "location": {"identifier": {"value": "lth-wards"}, "display": ward},
        "status": status,
    }
    return entry | ({"period": {"start": start}} if start else {})


def test_the_prior_location_listed_after_the_current_one_is_where_the_patient_was_first() -> None:
    document = encounter(location=[at("Ward 12", "active", MOVED), at("Ward 3", "completed")])

    admission, transfer = bodies(document)

    assert admission["unit"] == "Ward 3"
    assert (transfer["to_unit"], transfer["occurred_at"]) == ("Ward 12", MOVED)


def test_a_prior_location_with_a_start_is_not_taken_for_a_move_into_it() -> None:
    """The move into Ward 12, the current location, has no time: left out, with a warning, and
    the patient admitted to the ward they are in."""
    document = encounter(location=[at("Ward 12", "active"), at("Ward 3", "completed", ADMITTED)])

    mapped = mapped_of(document)

    assert [(m.event["event_type"], m.event["unit"]) for m in mapped.events] == [
        ("admission", "Ward 12")
    ]
    assert "Encounter.location[0].period.start" in [note.element for note in mapped.notes]


def test_a_history_in_order_is_read_as_listed() -> None:
    document = encounter(location=[at("Ward 3", "completed"), at("Ward 12", "active", MOVED)])

    admission, transfer = bodies(document)

    assert (admission["unit"], transfer["to_unit"]) == ("Ward 3", "Ward 12")
    assert transfer["event_id"].endswith(":transfer:1")
