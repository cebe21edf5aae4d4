"""A discharge disposition in SNOMED CT, as the HL7 FHIR R4 examples send it (encounter-example
f001-heart and f002-lung: 306689006 "Discharge to home") and the Emergency Care Data Set's
destinations are coded, is read as the place it names, not `other` with a warning."""

from __future__ import annotations

import pytest

from tests.adapters.fhir.encounters import bodies, finished, mapped_of

SNOMED_CT = "http://snomed.info/sct"


def disposition(code: str, display: str) -> dict[str, object]:
    return {"coding": [{"system": SNOMED_CT, "code": code, "display": display}]}


@pytest.mark.parametrize(
    ("code", "display", "destination"),
    [
        ("306689006", "Discharge to home", "usual_residence"),
        ("306691003", "Discharge to residential home", "care_home_residential"),
        ("306694006", "Discharge to nursing home", "care_home_nursing"),
        ("19712007", "Patient transfer, to another health care facility", "other_hospital"),
        ("183919006", "Urgent admission to hospice", "hospice"),
        ("305398007", "Admission to mortuary", "died"),
    ],
)
def test_a_snomed_discharge_destination_is_the_place_it_names(
    code: str, display: str, destination: str
) -> None:
    document = finished(disposition(code, display))

    assert bodies(document)[-1]["destination"] == destination
    assert mapped_of(document).notes == []


def test_an_unknown_snomed_code_is_still_other_with_a_warning() -> None:
    document = finished(disposition("185212007", "Seen in hospital ward"))

    assert bodies(document)[-1]["destination"] == "other"
    assert [note.element for note in mapped_of(document).notes] == [
        "Encounter.hospitalization.dischargeDisposition"
    ]
