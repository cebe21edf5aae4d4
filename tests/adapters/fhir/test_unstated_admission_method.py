"""An Encounter that does not tell its admission method still admits the patient, as an HL7 v2
arrival without PV1-4 does: `emergency`, with a warning naming what was said, so the bed is not
left looking free. US Core, the HL7 R4 examples and many vendors send no UK admission method."""

from __future__ import annotations

from typing import Any

from flowsight.adapters.fhir.terminology import (
    ADMISSION_METHOD_ENGLAND,
    ADMISSION_METHOD_EXTENSION,
    HL7_ACT_CODE,
    HL7_ADMIT_SOURCE,
)
from tests.adapters.fhir.encounters import encounter, mapped_of
from tests.adapters.fhir.test_real_feeds import entry, examined, transaction

ADMIT_SOURCE = "Encounter.hospitalization.admitSource"


def us_core_inpatient(**changes: Any) -> dict[str, Any]:
    """An inpatient Encounter as US Core and the HL7 R4 examples send it: class IMP, no UK Core
    extension, no admitSource."""
    return encounter(hospitalization=None, **changes)


def test_an_encounter_without_an_admission_method_is_an_emergency_admission_with_a_warning() -> (
    None
):
    mapped = mapped_of(us_core_inpatient())

    [admission] = mapped.events
    assert admission.event["event_type"] == "admission"
    assert admission.event["admission_method"] == "emergency"
    assert admission.element_of("admission_method") == ADMIT_SOURCE
    [note] = mapped.notes
    assert note.element == ADMIT_SOURCE
    assert "emergency" in note.message
    assert "AdmissionMethod extension" in note.message  # what to send instead


def test_codes_no_rule_knows_are_an_emergency_with_a_warning_naming_them() -> None:
    unknown_method = {
        "url": ADMISSION_METHOD_EXTENSION,
        "valueCodeableConcept": {"coding": [{"system": ADMISSION_METHOD_ENGLAND, "code": "99"}]},
    }
    document = encounter(
        hospitalization={
            "extension": [unknown_method],
            "admitSource": {"coding": [{"system": HL7_ADMIT_SOURCE, "code": "born"}]},
        }
    )

    mapped = mapped_of(document)

    assert mapped.events[0].event["admission_method"] == "emergency"
    [note] = mapped.notes
    assert f"{ADMISSION_METHOD_ENGLAND}|99" in note.message
    assert f"{HL7_ADMIT_SOURCE}|born" in note.message


def test_a_class_that_tells_the_method_still_wins_without_a_warning() -> None:
    home = us_core_inpatient()
    home["class"] = {"system": HL7_ACT_CODE, "code": "HH"}
    emergency = us_core_inpatient()
    emergency["class"] = {"system": HL7_ACT_CODE, "code": "EMER"}

    assert [mapped_of(home).events[0].event["admission_method"], mapped_of(home).notes] == [
        "start_of_care",
        [],
    ]
    assert [
        mapped_of(emergency).events[0].event["admission_method"],
        mapped_of(emergency).notes,
    ] == [
        "emergency",
        [],
    ]


def test_the_sender_is_told_in_the_operation_outcome_and_the_admission_is_published() -> None:
    result = examined(transaction(entry(us_core_inpatient())))

    assert [accepted.event["admission_method"] for accepted in result.events] == ["emergency"]
    [warning] = [issue for issue in result.notes if issue.severity == "warning"]
    assert warning.expression == "Bundle.entry[0].resource.hospitalization.admitSource"
    assert "emergency" in warning.diagnostics
