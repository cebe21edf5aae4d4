"""An NHS Data Dictionary code means the same event whichever way in a sender uses: HL7 v2
(PV1-4, PV1-36, PV1-37) or FHIR (the UK Core CodeSystems). The expected values are written out
here as the Data Dictionary defines the codes, not read from the tables under test."""

from __future__ import annotations

import pytest

from flowsight.adapters.fhir.terminology import (
    ADMISSION_METHOD_ENGLAND,
    ADMISSION_METHOD_EXTENSION,
    DISCHARGE_DESTINATION_ENGLAND,
    SOURCE_OF_ADMISSION_ENGLAND,
)
from flowsight.adapters.hl7.mapping import Mapped, map_message
from flowsight.services import nhs_codes
from tests.adapters.fhir.encounters import bodies, encounter, finished, mapped_of
from tests.adapters.hl7.test_mapping import LOCATIONS, PID, mapped, msh, pv1
from tests.adapters.hl7.test_mapping import message as hl7_message

EVN = "EVN|A01|20261123093100+0000|||CLERK|20261123093000+0000"

#: ADMISSION METHOD (Hospital Provider Spell): 1x elective, 2x emergency (2B a transfer from
#: another provider), 3x and 8x maternity and births (unplanned: emergency), 81 a transfer.
ADMISSION_METHODS = {
    **dict.fromkeys(["11", "12", "13"], "elective"),
    **dict.fromkeys(["21", "22", "23", "24", "25", "28", "2A", "2C", "2D"], "emergency"),
    **dict.fromkeys(["31", "32", "82", "83"], "emergency"),
    **dict.fromkeys(["2B", "81"], "transfer_in"),
}
#: DISCHARGE DESTINATION (Hospital Provider Spell) as contract code list 8.3.
DISCHARGE_DESTINATIONS = {
    "19": "usual_residence",
    **dict.fromkeys(["48", "49", "50", "51", "52", "53", "84", "87"], "other_hospital"),
    "54": "care_home_nursing",
    **dict.fromkeys(["65", "85"], "care_home_residential"),
    "79": "died",
    "88": "hospice",
    **dict.fromkeys(["29", "30", "37", "38", "66", "98", "99"], "other"),
}


def test_the_shared_tables_hold_exactly_the_documented_codes() -> None:
    assert nhs_codes.ADMISSION_METHODS == ADMISSION_METHODS
    assert nhs_codes.DISCHARGE_DESTINATIONS == DISCHARGE_DESTINATIONS
    assert set(nhs_codes.SOURCES_OF_ADMISSION) == {"49", "50", "51", "52", "53", "87"}
    assert set(nhs_codes.SOURCES_OF_ADMISSION.values()) == {"transfer_in"}
    assert nhs_codes.DISCHARGE_METHODS_DIED.isdisjoint(nhs_codes.DISCHARGE_METHODS_ALIVE)


@pytest.mark.parametrize(("code", "method"), sorted(ADMISSION_METHODS.items()))
def test_an_admission_method_code_means_the_same_over_hl7_and_fhir(code: str, method: str) -> None:
    over_hl7 = mapped(hl7_message(msh("A01"), EVN, PID, pv1(f3="WARD7", f4=code)))
    extension = {
        "url": ADMISSION_METHOD_EXTENSION,
        "valueCodeableConcept": {"coding": [{"system": ADMISSION_METHOD_ENGLAND, "code": code}]},
    }
    (over_fhir,) = bodies(encounter(hospitalization={"extension": [extension]}))

    assert over_hl7["admission_method"] == method
    assert over_fhir["admission_method"] == method


@pytest.mark.parametrize("code", ["98", "99", "14", "2E"])
def test_an_admission_method_code_that_decides_nothing_is_an_emergency_with_a_warning_over_both(
    code: str,
) -> None:
    # Neither gateway refuses an arrival for its admission method (docs/decisions.md, "Ways in").
    over_hl7 = map_message(
        hl7_message(msh("A01"), EVN, PID, pv1(f3="WARD7", f4=code)),
        organisation="RR8",
        locations=LOCATIONS,
    )
    extension = {
        "url": ADMISSION_METHOD_EXTENSION,
        "valueCodeableConcept": {"coding": [{"system": ADMISSION_METHOD_ENGLAND, "code": code}]},
    }
    over_fhir = mapped_of(encounter(hospitalization={"extension": [extension]}))

    assert isinstance(over_hl7, Mapped)
    assert over_hl7.event["admission_method"] == "emergency"
    assert over_hl7.warnings == [
        f"PV1-4: admission type {code!r} is not mapped; taken as 'emergency'"
    ]
    assert over_fhir.events[0].event["admission_method"] == "emergency"
    assert [note.element for note in over_fhir.notes] == ["Encounter.hospitalization.admitSource"]
    assert f"{ADMISSION_METHOD_ENGLAND}|{code}" in over_fhir.notes[0].message


@pytest.mark.parametrize(("code", "destination"), sorted(DISCHARGE_DESTINATIONS.items()))
def test_a_discharge_destination_code_means_the_same_over_hl7_and_fhir(
    code: str, destination: str
) -> None:
    a03 = hl7_message(msh("A03"), EVN.replace("A01", "A03"), PID, pv1(f3="WARD7", f37=code))
    disposition = {"coding": [{"system": DISCHARGE_DESTINATION_ENGLAND, "code": code}]}
    *_, over_fhir = bodies(finished(disposition))

    assert mapped(a03)["destination"] == destination
    assert over_fhir["destination"] == destination


@pytest.mark.parametrize("code", sorted(nhs_codes.SOURCES_OF_ADMISSION))
def test_admitted_from_another_hospital_is_a_transfer_in_over_fhir(code: str) -> None:
    admit_source = {"coding": [{"system": SOURCE_OF_ADMISSION_ENGLAND, "code": code}]}
    (admission,) = bodies(encounter(hospitalization={"admitSource": admit_source}))
    assert admission["admission_method"] == "transfer_in"


@pytest.mark.parametrize(("method", "destination"), [("4", "died"), ("5", "died"), ("1", "other")])
def test_the_discharge_method_tells_a_death_over_hl7(method: str, destination: str) -> None:
    a03 = hl7_message(msh("A03"), EVN.replace("A01", "A03"), PID, pv1(f3="WARD7", f36=method))
    assert mapped(a03)["destination"] == destination
