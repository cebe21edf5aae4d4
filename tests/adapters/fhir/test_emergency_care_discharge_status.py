"""The UK Core EmergencyCareDischargeStatus of an emergency department's Encounter: a patient who
left before assessment or treatment was completed left (outcome `left`), wherever they went."""

from __future__ import annotations

from typing import Any

import pytest

from flowsight.adapters.fhir.terminology import SNOMED_CT
from tests.adapters.fhir.test_feed_shapes import in_department
from tests.adapters.fhir.test_real_feeds import examined

STATUS = "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-EmergencyCareDischargeStatus"
WALES = "https://fhir.hl7.org.uk/CodeSystem/UKCore-EmergencyCareOutcomeOfAttendanceWales"
HOME = {"coding": [{"system": SNOMED_CT, "code": "306689006"}]}  # ECDS: discharged home


def finished_in_department(system: str, code: str) -> dict[str, Any]:
    period = {"start": "2025-03-10T09:40:00+00:00", "end": "2025-03-10T12:00:00+00:00"}
    status = {"url": STATUS, "valueCodeableConcept": {"coding": [{"system": system, "code": code}]}}
    document = in_department("finished", period=period, extension=[status])
    document["hospitalization"]["dischargeDisposition"] = HOME
    return document


@pytest.mark.parametrize(
    ("system", "code"),
    [
        (SNOMED_CT, "1066301000000103"),  # left before initial assessment
        (SNOMED_CT, "1066311000000101"),  # left after initial assessment
        (SNOMED_CT, "1066321000000107"),  # left before treatment completed
        (WALES, "09"),  # self discharged without clinical consent
    ],
)
def test_a_patient_who_left_before_treatment_left_though_they_went_home(
    system: str, code: str
) -> None:
    departure = examined(finished_in_department(system, code)).events[-1].event

    assert departure["outcome"] == "left"


def test_treatment_completed_keeps_the_outcome_the_destination_gives() -> None:
    departure = examined(finished_in_department(SNOMED_CT, "182992009")).events[-1].event

    assert departure["outcome"] == "discharged"
