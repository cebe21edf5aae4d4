"""A discharge disposition in NUBC's Patient Discharge Status, as US Core, Synthea and Da Vinci
send it, is read as the place it names, not `other` with a warning, under each of its URIs."""

from __future__ import annotations

import pytest

from flowsight.adapters.fhir.codes import NUBC_DISCHARGE_STATUS
from tests.adapters.fhir.encounters import bodies, finished, mapped_of


@pytest.mark.parametrize("system", NUBC_DISCHARGE_STATUS)
@pytest.mark.parametrize(
    ("code", "destination"),
    [
        ("01", "usual_residence"),  # home or self care
        ("06", "usual_residence_with_support"),  # home with a home health service
        ("02", "other_hospital"),  # a short-term general hospital
        ("03", "care_home_nursing"),  # a skilled nursing facility
        ("04", "care_home_residential"),  # an intermediate care facility
        ("62", "short_term_bed"),  # an inpatient rehabilitation facility
        ("51", "hospice"),
        ("20", "died"),  # expired
        ("83", "care_home_nursing"),  # 03 with a readmission planned
        ("07", "other"),  # left against medical advice
    ],
)
def test_a_nubc_discharge_status_is_the_place_it_names(
    system: str, code: str, destination: str
) -> None:
    document = finished({"coding": [{"system": system, "code": code}]})

    assert bodies(document)[-1]["destination"] == destination
    assert mapped_of(document).notes == []


def test_a_nubc_code_it_does_not_list_is_still_other_with_a_warning() -> None:
    document = finished({"coding": [{"system": NUBC_DISCHARGE_STATUS[0], "code": "30"}]})

    assert bodies(document)[-1]["destination"] == "other"
    assert [note.element for note in mapped_of(document).notes] == [
        "Encounter.hospitalization.dischargeDisposition"
    ]
