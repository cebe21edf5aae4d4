"""An Encounter's location history read in time order, and refused when a location's start
falls outside the Encounter: otherwise its transfer is replayed before the admission or after
the discharge, and the patient stays in a bed for good."""

from __future__ import annotations

from typing import Any

import pytest

from tests.adapters.fhir.encounters import bodies, encounter, finished, mapped_of, problem_of


def stay(service: str, start: str, display: str | None = None) -> dict[str, Any]:
    where: dict[str, Any] = {"identifier": {"value": service}}
    if display:
        where["display"] = display
    return {"location": where, "status": "completed", "period": {"start": start}}


ED = stay("lth-ed", "2025-03-10T09:40:00+00:00")
WARD = stay("lth-wards", "2025-03-10T13:05:00+00:00", "Ward 12")
HUB = stay("lth-toc-hub", "2025-03-12T08:00:00+00:00")


def moves(document: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    return [
        (event["event_id"], event["from_service"], event["to_service"], event["occurred_at"])
        for event in bodies(document)
        if event["event_type"] == "transfer"
    ]


def test_a_history_listed_newest_first_gives_the_transfers_of_the_same_history_in_order() -> None:
    in_order = encounter(location=[ED, WARD, HUB])
    newest_first = encounter(location=[HUB, WARD, ED])

    assert moves(newest_first) == moves(in_order)
    assert moves(in_order) == [
        ("SPELL-55123:transfer:1", "lth-ed", "lth-wards", "2025-03-10T13:05:00+00:00"),
        ("SPELL-55123:transfer:2", "lth-wards", "lth-toc-hub", "2025-03-12T08:00:00+00:00"),
    ]
    assert bodies(newest_first)[0]["service"] == "lth-ed", "admitted where the history began"


def test_a_location_starting_after_the_encounter_ended_is_refused_naming_its_start() -> None:
    late = stay("lth-toc-hub", "2025-03-15T10:00:00+00:00")  # the spell ended on the 14th

    problem = problem_of(finished(location=[ED, WARD, late]))

    assert (problem.reason, problem.field) == (
        "invalid_field",
        "Encounter.location[2].period.start",
    )
    assert "after the Encounter's end" in problem.message


def test_a_location_starting_before_the_encounter_began_is_refused_naming_its_start() -> None:
    early = stay("lth-toc-hub", "2025-03-09T10:00:00+00:00")  # the spell began on the 10th

    problem = problem_of(encounter(location=[ED, early]))

    assert (problem.reason, problem.field) == (
        "invalid_field",
        "Encounter.location[1].period.start",
    )
    assert "before the Encounter's start" in problem.message


def test_a_location_starting_seconds_before_the_encounter_begins_with_it_with_a_note() -> None:
    # Epic's sandbox: location 20:41:00, period.start 20:41:08; the whole stay was refused.
    ward = stay("lth-wards", "2025-03-10T09:39:52+00:00")  # the spell began at 09:40:00
    later = stay("lth-toc-hub", "2025-03-11T10:00:00+00:00")
    document = encounter(location=[ward, later])

    mapped = mapped_of(document)

    events = [m.event for m in mapped.events]
    assert [(e["event_type"], e["occurred_at"]) for e in events] == [
        ("admission", "2025-03-10T09:40:00+00:00"),
        ("transfer", "2025-03-11T10:00:00+00:00"),
    ]
    assert [note.element for note in mapped.notes] == ["Encounter.location[0].period.start"]
    assert "read as beginning with the Encounter" in mapped.notes[0].message


@pytest.mark.parametrize("at", ["2025-03-10T09:40:00+00:00", "2025-03-14T15:00:00+00:00"])
def test_a_location_starting_at_the_encounter_s_start_or_end_is_within_it(at: str) -> None:
    document = finished(location=[ED, stay("lth-wards", at)])

    assert [event["event_type"] for event in bodies(document)][-1] == "discharge"


def test_without_every_start_the_order_listed_stands_and_a_step_back_in_time_is_refused() -> None:
    unknown = {"location": {"identifier": {"value": "lth-ed"}}, "status": "completed"}
    back = stay("lth-toc-hub", "2025-03-10T11:00:00+00:00")

    problem = problem_of(encounter(location=[unknown, WARD, back]))

    assert (problem.reason, problem.field) == (
        "invalid_field",
        "Encounter.location[2].period.start",
    )
    assert "Encounter.location[1]" in problem.message
