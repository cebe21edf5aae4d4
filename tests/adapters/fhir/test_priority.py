"""An Encounter's priority (HL7 v3 ActPriority) tells an elective admission from an emergency one
where no admission method extension or admitSource does: Oracle Health (Cerner) fills it on every
Encounter, with an admitSource of its own ("Self") that says neither. Before, such an elective
admission was published as an emergency."""

from __future__ import annotations

import pytest

from tests.adapters.fhir.encounters import bodies, encounter, mapped_of

ACT_PRIORITY = "http://terminology.hl7.org/CodeSystem/v3-ActPriority"
CERNER_SELF = {"coding": [{"system": "https://fhir.cerner.com/abc/codeSet/2", "code": "4326381"}]}


@pytest.mark.parametrize(
    ("system", "code", "method"),
    [
        (ACT_PRIORITY, "EL", "elective"),
        (ACT_PRIORITY, "R", "elective"),
        (ACT_PRIORITY, "EM", "emergency"),
        (ACT_PRIORITY, "UR", "emergency"),
        ("http://hl7.org/fhir/v3/ActPriority", "EL", "elective"),  # STU3's URI
    ],
)
def test_the_priority_gives_the_admission_method_when_the_admit_source_does_not(
    system: str, code: str, method: str
) -> None:
    document = encounter(priority={"coding": [{"system": system, "code": code}]})
    document["hospitalization"] = {"admitSource": CERNER_SELF}

    assert bodies(document)[0]["admission_method"] == method
    assert mapped_of(document).notes == []


def test_the_admission_method_extension_wins_over_the_priority() -> None:
    document = encounter(priority={"coding": [{"system": ACT_PRIORITY, "code": "EL"}]})

    assert bodies(document)[0]["admission_method"] == "emergency"  # the extension's 21


def test_a_priority_that_tells_no_method_is_named_in_the_warning() -> None:
    document = encounter(priority={"coding": [{"system": ACT_PRIORITY, "code": "PRN"}]})
    document["hospitalization"] = {"admitSource": CERNER_SELF}

    assert bodies(document)[0]["admission_method"] == "emergency"
    (note,) = mapped_of(document).notes
    assert f"{ACT_PRIORITY}|PRN" in note.message


def test_the_class_comes_before_the_priority() -> None:
    # An emergency or home-health class says more than any priority.
    document = encounter(
        priority={"coding": [{"system": ACT_PRIORITY, "code": "EL"}]},
        **{"class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "HH"}},
    )
    document["hospitalization"] = {"admitSource": CERNER_SELF}

    assert bodies(document)[0]["admission_method"] == "start_of_care"
