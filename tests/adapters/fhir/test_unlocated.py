"""An Encounter that names no location at all is read, when the sender's profile has a default
service, as the HL7 v2 gateway reads an empty PV1-3: in that service, with a warning. It was
refused, so a finished stay sent without its ward was lost on the FHIR side only."""

from __future__ import annotations

from typing import Any

from flowsight.adapters.fhir.terminology import HL7_ACT_CODE
from flowsight.adapters.profile import MappingProfile
from tests.adapters.fhir.encounters import encounter, finished
from tests.adapters.fhir.test_real_feeds import examined, refusal

DEFAULTED = MappingProfile(organisation="RR8", default_service="lth-wards", locations=[])


def unlocated(document: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in document.items() if key != "location"}


def published(document: dict[str, Any]) -> list[tuple[str, str]]:
    events = examined(document, {"RR8": DEFAULTED}).events
    return [(e.event["event_type"], e.event["service"]) for e in events]


def test_a_finished_stay_without_a_location_is_admitted_and_discharged_in_the_default() -> None:
    result = examined(unlocated(finished()), {"RR8": DEFAULTED})

    assert [(e.event["event_type"], e.event["service"]) for e in result.events] == [
        ("admission", "lth-wards"),
        ("discharge", "lth-wards"),
    ]
    assert "Encounter.location" in [note.expression for note in result.notes]


def test_without_a_default_service_it_is_still_refused_naming_the_location() -> None:
    answer = refusal(unlocated(encounter()))

    assert (answer.issues[0].expression, answer.issues[0].reason) == (
        "Encounter.location",
        "missing_field",
    )


def test_a_bare_retraction_retracts_the_admission_and_discharge() -> None:
    retraction = unlocated(finished(status="entered-in-error"))

    cancelled = [
        e.event["cancels_event_id"] for e in examined(retraction, {"RR8": DEFAULTED}).events
    ]

    assert cancelled == ["SPELL-55123:admission", "SPELL-55123:discharge"]


def test_an_emergency_encounter_without_a_location_is_an_attendance() -> None:
    document = unlocated(
        encounter(status="arrived", **{"class": {"system": HL7_ACT_CODE, "code": "EMER"}})
    )
    del document["hospitalization"]

    assert published(document) == [("attendance", "lth-ed")]


def test_an_emergency_encounter_without_a_location_is_said_to_be_at_the_department_once() -> None:
    # It was told "placed in the default service 'lth-wards'", then "the emergency department"
    # on Encounter.location[0], an element the Encounter does not have.
    document = unlocated(
        encounter(status="arrived", **{"class": {"system": HL7_ACT_CODE, "code": "EMER"}})
    )
    del document["hospitalization"]

    notes = examined(document, {"RR8": DEFAULTED}).notes

    located = [n for n in notes if n.expression and n.expression.startswith("Encounter.location")]
    assert [n.expression for n in located] == ["Encounter.location"]
    assert "emergency department" in located[0].diagnostics
