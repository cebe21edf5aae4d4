"""UK Core's AdmissionMethod, SourceOfAdmission and DischargeDestination value sets hold the NHS
Wales codes beside England's, each under its own system (UKCore-AdmissionMethodWales, ...). A
Welsh sender's admission is read, not refused, and its discharge destination is Wales's meaning
of the code, not England's."""

from __future__ import annotations

from typing import Any

import pytest

from tests.adapters.fhir.encounters import bodies, encounter, finished, mapped_of

UK_CORE = "https://fhir.hl7.org.uk/CodeSystem/"
ADMISSION_METHOD_EXTENSION = (
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-AdmissionMethod"
)


def admitted_by(code: str) -> dict[str, Any]:
    coding = {"system": UK_CORE + "UKCore-AdmissionMethodWales", "code": code}
    extension = {"url": ADMISSION_METHOD_EXTENSION, "valueCodeableConcept": {"coding": [coding]}}
    return encounter(hospitalization={"extension": [extension]})


@pytest.mark.parametrize(
    ("code", "method"),
    [("11", "elective"), ("21", "emergency"), ("27", "emergency"), ("81", "transfer_in")],
)
def test_a_welsh_admission_method_is_read(code: str, method: str) -> None:
    assert bodies(admitted_by(code))[0]["admission_method"] == method


def test_a_welsh_source_of_admission_from_another_health_board_is_a_transfer_in() -> None:
    source = {"coding": [{"system": UK_CORE + "UKCore-SourceOfAdmissionWales", "code": "51"}]}
    document = encounter(hospitalization={"admitSource": source})

    assert bodies(document)[0]["admission_method"] == "transfer_in"


def test_an_unknown_welsh_admission_method_is_an_emergency_with_a_warning_naming_it() -> None:
    mapped = mapped_of(admitted_by("99"))

    assert mapped.events[0].event["admission_method"] == "emergency"
    [note] = mapped.notes
    assert note.element == "Encounter.hospitalization.admitSource"
    assert f"{UK_CORE}UKCore-AdmissionMethodWales|99" in note.message


@pytest.mark.parametrize(
    ("code", "destination"),
    [
        ("19", "usual_residence"),
        ("20", "care_home_residential"),
        ("21", "short_term_bed"),
        ("23", "hospice"),  # England has no 23; Wales's is a hospice
        ("51", "other_hospital"),
        ("55", "other_hospital"),
        ("79", "died"),
        ("86", "care_home_nursing"),  # England's 86 does not exist; Wales's is a nursing home
    ],
)
def test_a_welsh_discharge_destination_is_read_as_wales_means_it(
    code: str, destination: str
) -> None:
    disposition = {
        "coding": [{"system": UK_CORE + "UKCore-DischargeDestinationWales", "code": code}]
    }

    assert bodies(finished(disposition))[-1]["destination"] == destination
