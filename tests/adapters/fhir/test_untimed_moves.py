"""A move nothing dates is left out, not the Encounter. microsoft/FHIR-Converter's conversions of
an ADT^A01 and an ADT^A03 give no location a period: PV1-3 (where the patient is; `active`, and
`completed` once discharged) and PV1-6 (the prior location, `completed`) listed after it. Read
as a move with no time, each was refused whole: the admission never reached the board, or the
discharge was lost and the patient stayed in a bed for good. The admission (Encounter.period
.start) and discharge (Encounter.period.end) are dated: they are published in the location the
patient is in, and the move is left out with a warning naming the `period.start` it lacks."""

from __future__ import annotations

import json
from typing import Any

from flowsight.adapters.fhir.outcome import Examined
from flowsight.adapters.profile import LocationRule, MappingProfile
from tests.adapters.fhir.encounters import CORPUS, bodies, encounter, finished, mapped_of
from tests.adapters.fhir.test_real_feeds import examined, refusal

#: PV1-3 of both messages is "HUH AE OMU", PV1-6 "4 East, room 136, bed B 4E": another service,
#: so a discharge from the wrong one would leave the ward's bed taken.
PROFILE = MappingProfile(
    organisation="RR8",
    locations=[
        LocationRule(location="HUH AE OMU", service="lth-wards"),
        LocationRule(location="4 East*", service="lth-toc-hub"),
    ],
)
ADMITTED = "2015-02-08T15:54:19+05:30"
DISCHARGED = "2015-02-09T15:54:19+05:30"


def converted(name: str) -> dict[str, Any]:
    """A FHIR-Converter conversion (a batch of PUTs) as the transaction an integrator posts."""
    document: dict[str, Any] = json.loads((CORPUS / name).read_text("utf-8"))
    return document | {"type": "transaction"}


def encounter_entry(document: dict[str, Any]) -> int:
    kinds = [entry["resource"]["resourceType"] for entry in document["entry"]]
    return kinds.index("Encounter")


def published(result: Examined) -> list[tuple[str, str, str | None, str]]:
    """What the Encounter says happened; not the withdrawal, `if_present`, of a discharge an
    earlier version may have said, which each version dated by its Bundle carries."""
    return [
        (e.event["event_type"], e.event["service"], e.event.get("unit"), e.event["occurred_at"])
        for e in result.events
        if not e.event.get("if_present")
    ]


def warnings(result: Examined) -> list[str | None]:
    return [issue.expression for issue in result.notes if issue.severity == "warning"]


def test_the_converters_discharge_ends_the_stay_in_the_ward_the_patient_was_in() -> None:
    document = converted("ms-fhir-converter__ADT-A03-02-expected.json")
    entry = encounter_entry(document)

    result = examined(document, {"RR8": PROFILE})

    assert published(result) == [
        ("admission", "lth-wards", "HUH AE OMU", ADMITTED),
        ("discharge", "lth-wards", None, DISCHARGED),
    ]
    assert f"Bundle.entry[{entry}].resource.location[1].period.start" in warnings(result)


def test_the_converters_admission_is_into_the_ward_the_discharge_ends() -> None:
    document = converted("ms-fhir-converter__ADT-A01-02-expected.json")
    entry = encounter_entry(document)

    result = examined(document, {"RR8": PROFILE})

    assert published(result) == [("admission", "lth-wards", "HUH AE OMU", ADMITTED)]
    assert f"Bundle.entry[{entry}].resource.location[0].period.start" in warnings(result)


def test_an_encounter_that_cannot_be_dated_is_still_refused() -> None:
    document = converted("ms-fhir-converter__ADT-A03-02-expected.json")
    entry = encounter_entry(document)
    del document["entry"][entry]["resource"]["period"]["start"]

    answer = refusal(document, {"RR8": PROFILE})

    [error] = [issue for issue in answer.issues if issue.severity == "error"]
    assert error.expression == f"Bundle.entry[{entry}].resource.period.start"


def at(ward: str, status: str, start: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "location": {"identifier": {"value": ward}, "display": ward},
        "status": status,
    }
    return entry | ({"period": {"start": start}} if start else {})


def test_the_patient_is_admitted_where_they_are_when_the_move_there_has_no_time() -> None:
    document = encounter(
        location=[at("lth-wards", "active"), at("lch-community-beds", "completed")]
    )

    mapped = mapped_of(document)

    assert [(e.event["event_type"], e.event["service"]) for e in mapped.events] == [
        ("admission", "lth-wards")
    ]
    [note] = [n for n in mapped.notes if n.element.startswith("Encounter.location")]
    assert note.element == "Encounter.location[0].period.start"
    assert "Encounter.location[1]" in note.message


def test_a_finished_encounter_wholly_left_is_discharged_from_the_first_location_listed() -> None:
    document = finished(
        location=[at("lth-wards", "completed"), at("lch-community-beds", "completed")]
    )

    assert [(e["event_type"], e["service"]) for e in bodies(document)] == [
        ("admission", "lth-wards"),
        ("discharge", "lth-wards"),
    ]


def test_timed_moves_are_still_transfers() -> None:
    moved = "2025-03-11T08:00:00+00:00"
    document = encounter(
        location=[at("lch-community-beds", "completed"), at("lth-wards", "active", moved)]
    )

    admission, transfer = bodies(document)

    assert (admission["service"], transfer["to_service"], transfer["occurred_at"]) == (
        "lch-community-beds",
        "lth-wards",
        moved,
    )


def test_a_retraction_of_an_untimed_history_still_cancels_every_move() -> None:
    document = encounter(
        status="entered-in-error",
        location=[at("lth-wards", "active"), at("lch-community-beds", "completed")],
    )

    cancelled = [event["cancels_event_id"] for event in bodies(document)]

    assert cancelled == [
        "SPELL-55123:admission",
        "SPELL-55123:transfer:1",
        "SPELL-55123:discharge",
    ]


def test_a_move_into_a_location_without_a_start_is_dated_by_the_end_of_the_one_left() -> None:
    left = "2025-03-12T08:30:00+00:00"
    ward = at("lth-wards", "completed", "2025-03-10T09:40:00+00:00")
    ward["period"]["end"] = left
    # Listed newest first, the new location without a period: the ward's end says when.
    document = encounter(location=[at("lch-community-beds", "active"), ward])

    mapped = mapped_of(document)

    [admission, transfer] = mapped.events
    assert admission.event["service"] == "lth-wards"
    assert transfer.event["event_type"] == "transfer"
    assert transfer.event["to_service"] == "lch-community-beds"
    assert transfer.event["occurred_at"] == "2025-03-12T08:30:00+00:00"
    assert transfer.elements["occurred_at"] == "Encounter.location[1].period.end"
    assert not [n for n in mapped.notes if n.element.startswith("Encounter.location")]


def test_an_end_after_the_encounter_ended_dates_no_move() -> None:
    ward = at("lth-wards", "completed", "2025-03-10T09:40:00+00:00")
    ward["period"]["end"] = "2025-03-15T08:30:00+00:00"  # after the discharge, 14 March 15:00
    document = finished(location=[ward, at("lch-community-beds", "completed")])

    mapped = mapped_of(document)

    assert [e.event["event_type"] for e in mapped.events] == ["admission", "discharge"]
    [note] = [n for n in mapped.notes if n.element.startswith("Encounter.location")]
    assert note.element == "Encounter.location[1].period.start"
