"""Care Connect, NHS England's STU3 profiles before UK Core, is still what Transfer of Care and
regional records (Yorkshire and Humber's, Leeds's among them) send, often in otherwise valid R4
Encounters: its codes are the NHS Data Dictionary's under its own system and extension URLs, and
read as UK Core's are. Before, a death under Care Connect's discharge method was a discharge to
`other`, and a discharge home `other` with a warning."""

from __future__ import annotations

from typing import Any

import pytest

from tests.adapters.fhir.encounters import bodies, encounter, finished, mapped_of
from tests.adapters.fhir.test_feed_shapes import in_department
from tests.adapters.fhir.test_real_feeds import examined

STU3 = "https://fhir.hl7.org.uk/STU3/"
DESTINATION = f"{STU3}CodeSystem/CareConnect-DischargeDestination-1"
ADMISSION_METHOD = f"{STU3}StructureDefinition/Extension-CareConnect-AdmissionMethod-1"
DISCHARGE_METHOD = f"{STU3}StructureDefinition/Extension-CareConnect-DischargeMethod-1"


def coded(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}]}


def extension(url: str, system: str, code: str) -> dict[str, Any]:
    return {"url": url, "valueCodeableConcept": coded(system, code)}


def test_a_death_under_care_connects_discharge_method_is_died() -> None:
    document = finished(coded(DESTINATION, "19"))  # the usual residence, as deaths often say
    document["hospitalization"]["extension"].append(
        extension(DISCHARGE_METHOD, f"{STU3}CodeSystem/CareConnect-DischargeMethod-1", "4")
    )

    assert bodies(document)[-1]["destination"] == "died"


@pytest.mark.parametrize(
    ("code", "destination"),
    [("19", "usual_residence"), ("54", "care_home_nursing"), ("51", "other_hospital")],
)
def test_a_care_connect_discharge_destination_is_the_place_it_names(
    code: str, destination: str
) -> None:
    document = finished(coded(DESTINATION, code))

    assert bodies(document)[-1]["destination"] == destination
    assert mapped_of(document).notes == []


def test_an_emergency_department_patient_sent_to_another_hospital_was_transferred() -> None:
    period = {"start": "2025-03-10T09:40:00+00:00", "end": "2025-03-10T12:00:00+00:00"}
    document = in_department("finished", period=period)
    document["hospitalization"]["dischargeDisposition"] = coded(DESTINATION, "51")

    assert examined(document).events[-1].event["outcome"] == "transferred"


def test_care_connects_admission_method_and_source_of_admission_are_read() -> None:
    elective = encounter()
    elective["hospitalization"]["extension"] = [
        extension(ADMISSION_METHOD, f"{STU3}CodeSystem/CareConnect-AdmissionMethod-1", "11")
    ]
    moved = encounter()
    moved["hospitalization"] = {
        "admitSource": coded(f"{STU3}CodeSystem/CareConnect-SourceOfAdmission-1", "51")
    }

    assert bodies(elective)[0]["admission_method"] == "elective"
    assert bodies(moved)[0]["admission_method"] == "transfer_in"
