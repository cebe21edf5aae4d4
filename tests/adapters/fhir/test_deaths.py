"""A death over FHIR: the Patient sent with the Encounter says it (`deceased[x]`), or the
disposition says it in words, as the HL7 v2 gateway reads PID-30 and PV1-36's text."""

from __future__ import annotations

from typing import Any

import pytest

from tests.adapters.fhir.encounters import finished
from tests.adapters.fhir.test_real_feeds import a_patient, entry, examined, transaction

END = "2025-03-14T15:00:00+00:00"  # `finished()`'s period.end; its disposition: usual residence


def discharge_of(document: dict[str, Any]) -> tuple[str, list[str]]:
    result = examined(document)
    (discharge,) = [e.event for e in result.events if e.event["event_type"] == "discharge"]
    return discharge["destination"], [note.diagnostics for note in result.notes]


@pytest.mark.parametrize(
    "deceased",
    [
        {"deceasedDateTime": END},  # Synthea's hospice stays end at the death
        {"deceasedDateTime": "2025-03-14T06:30:00+00:00"},  # died in the night, closed later
    ],
)
def test_a_patient_who_died_during_the_stay_is_discharged_dead(deceased: dict[str, Any]) -> None:
    document = transaction(
        entry(a_patient(**deceased), "urn:uuid:p1"),
        entry(finished(subject={"reference": "urn:uuid:p1"})),
    )

    destination, _ = discharge_of(document)

    assert destination == "died"


def test_a_patient_who_died_after_the_stay_left_it_alive() -> None:
    later = a_patient(deceasedDateTime="2025-04-02T10:00:00+00:00")
    document = transaction(
        entry(later, "urn:uuid:p1"), entry(finished(subject={"reference": "urn:uuid:p1"}))
    )

    destination, notes = discharge_of(document)

    assert destination == "usual_residence"
    assert any("not dated within the Encounter's period" in note for note in notes)
    # The note names the Patient's entry ("Bundle.entry[1].resourcePatient..." before).
    expressions = [note.expression for note in examined(document).notes]
    assert "Bundle.entry[0].resource.deceasedDateTime" in expressions


def test_a_note_on_a_contained_patient_names_it_in_the_encounter() -> None:
    dead = a_patient(id="p", deceasedBoolean=True)
    document = transaction(entry(finished(contained=[dead], subject={"reference": "#p"})))

    expressions = [note.expression for note in examined(document).notes]

    assert "Bundle.entry[0].resource.contained[0].deceasedBoolean" in expressions


def test_a_contained_patient_marked_deceased_is_a_death_said_in_a_note() -> None:
    dead = a_patient(id="p", deceasedBoolean=True)
    document = finished(contained=[dead], subject={"reference": "#p"})

    destination, notes = discharge_of(document)

    assert destination == "died"
    assert "the Patient is deceased: the discharge is a death" in notes


@pytest.mark.parametrize(
    ("disposition", "destination"),
    [
        ({"text": "Deceased"}, "died"),
        (
            {"coding": [{"system": "urn:oid:1.2.3", "code": "X9", "display": "Patient died"}]},
            "died",
        ),
        ({"text": "Home"}, "usual_residence"),
        ({"text": "Ward 9"}, "other"),
    ],
)
def test_a_disposition_no_table_knows_is_read_by_its_words(
    disposition: dict[str, Any], destination: str
) -> None:
    assert discharge_of(finished(disposition))[0] == destination


def test_a_deceased_flag_with_many_encounters_in_the_bundle_kills_none_of_them() -> None:
    # A life's Bundle: the flag does not say which stay ended in the death.
    dead = a_patient(deceasedBoolean=True)
    first = finished(subject={"reference": "urn:uuid:p1"})
    second = finished(
        subject={"reference": "urn:uuid:p1"},
        identifier=[{"system": "https://fhir.rr8.example/Id/spell", "value": "SPELL-2"}],
    )
    document = transaction(entry(dead, "urn:uuid:p1"), entry(first), entry(second))

    result = examined(document)

    discharges = [e.event for e in result.events if e.event["event_type"] == "discharge"]
    assert [d["destination"] for d in discharges] == ["usual_residence", "usual_residence"]
    assert any("which stay ended in the death is not said" in n.diagnostics for n in result.notes)
