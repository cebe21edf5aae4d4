"""A discharge disposition in NUBC's Patient Discharge Status, as US Core, Synthea and Da Vinci
send it, is read as the place it names, not `other` with a warning, under each of its URIs."""

from __future__ import annotations

import pytest

from flowsight.adapters.fhir.terminology import NUBC_DISCHARGE_STATUS
from tests.adapters.fhir.encounters import bodies, finished, mapped_of
from tests.adapters.fhir.test_feed_shapes import in_department
from tests.adapters.fhir.test_real_feeds import examined


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


@pytest.mark.parametrize("system", NUBC_DISCHARGE_STATUS)
def test_a_nubc_code_without_its_leading_zero_is_the_same_code(system: str) -> None:
    # Da Vinci's own discharge notification sends `1`, home.
    document = finished({"coding": [{"system": system, "code": "1"}]})

    assert bodies(document)[-1]["destination"] == "usual_residence"
    assert mapped_of(document).notes == []


def test_an_emergency_patient_who_left_against_advice_left_with_or_without_the_zero() -> None:
    period = {"start": "2025-03-10T09:40:00+00:00", "end": "2025-03-10T12:00:00+00:00"}
    outcomes = []
    for code in ("07", "7"):
        document = in_department("finished", period=period)
        document["hospitalization"]["dischargeDisposition"] = {
            "coding": [{"system": NUBC_DISCHARGE_STATUS[0], "code": code}]
        }
        outcomes.append(examined(document).events[-1].event["outcome"])

    assert outcomes == ["left", "left"]
