"""The UK Core DischargeMethod extension: a patient who died is discharged `died`, whatever the
discharge destination says (UK Core puts the method on Encounter, beside the destination)."""

from __future__ import annotations

from typing import Any

import pytest

from flowsight.adapters.fhir.terminology import DISCHARGE_DESTINATION_ENGLAND
from tests.adapters.fhir.encounters import bodies, finished

DISCHARGE_METHOD_EXTENSION = (
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-DischargeMethod"
)
ENGLAND = "https://fhir.hl7.org.uk/CodeSystem/UKCore-DischargeMethodEngland"
USUAL_RESIDENCE = {"coding": [{"system": DISCHARGE_DESTINATION_ENGLAND, "code": "19"}]}


def method(code: str, system: str = ENGLAND) -> dict[str, Any]:
    return {
        "url": DISCHARGE_METHOD_EXTENSION,
        "valueCodeableConcept": {"coding": [{"system": system, "code": code}]},
    }


@pytest.mark.parametrize("code", ["4", "5"])
def test_a_death_is_died_whatever_the_destination_says(code: str) -> None:
    document = finished(USUAL_RESIDENCE, extension=[method(code)])

    assert bodies(document)[-1]["destination"] == "died"


def test_a_death_without_a_destination_is_died_not_other() -> None:
    document = finished(extension=[method("4")])
    del document["hospitalization"]["dischargeDisposition"]

    assert bodies(document)[-1]["destination"] == "died"


def test_the_method_is_read_on_hospitalization_and_under_the_welsh_system() -> None:
    welsh = method("4", "https://fhir.hl7.org.uk/CodeSystem/UKCore-DischargeMethodWales")
    document = finished(USUAL_RESIDENCE)
    document["hospitalization"]["extension"].append(welsh)

    assert bodies(document)[-1]["destination"] == "died"


def test_a_discharge_on_clinical_advice_keeps_its_destination() -> None:
    document = finished(USUAL_RESIDENCE, extension=[method("1")])

    assert bodies(document)[-1]["destination"] == "usual_residence"
