"""An ambulatory, virtual or field Encounter (class AMB, VR, FLD) holds no bed.

A hospital's Encounter feed carries far more outpatient visits than admissions. Read as
admissions they filled wards with clinic patients (and an `arrived` one, or one at a clinic no
rule places, was refused and dead-lettered). As the HL7 v2 gateway takes class O and R, such an
Encounter publishes nothing, with a warning, unless it is at an emergency department; one that
gives admission details (`hospitalization`) is still an admission.
"""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.encounter import Encounter

from flowsight.adapters.fhir.mapping import map_encounter
from flowsight.adapters.fhir.terminology import (
    ADMISSION_METHOD_EXTENSION,
    HL7_ACT_CODE,
    HL7_ACT_CODE_STU3,
)
from flowsight.adapters.profile import MappingProfile
from flowsight.services.validation import Rejected
from tests.adapters.fhir.encounters import NOW, encounter, events_of, finished

FRONT_DOOR = frozenset({"lth-ed"})
CLINIC = {
    "location": {"identifier": {"value": "OPD-CARDIO"}, "display": "Cardiology clinic"},
    "status": "completed",
    "period": {"start": "2025-03-10T09:40:00+00:00", "end": "2025-03-10T10:10:00+00:00"},
}


def visit(code: str, system: str = HL7_ACT_CODE, **changes: Any) -> dict[str, Any]:
    """A finished visit of class `code`, without admission details."""
    document = finished(**{"class": {"system": system, "code": code}}, **changes)
    del document["hospitalization"]
    return document


def mapped(document: dict[str, Any]) -> tuple[list[str], list[tuple[str, str]]]:
    """The event types the Encounter gives, and its warnings (element, message)."""
    result = map_encounter(
        Encounter.model_validate(document), organisation="RR8", now=NOW, front_door=FRONT_DOOR
    )
    assert not isinstance(result, Rejected), result
    events = [event.event["event_type"] for event in result.events]
    return events, [(note.element, note.message) for note in result.notes]


def test_an_outpatient_visit_at_a_mapped_place_publishes_nothing_with_a_warning() -> None:
    events, notes = mapped(visit("AMB"))

    assert events == []
    assert [element for element, _ in notes] == ["Encounter.class"]
    assert "class AMB holds no bed" in notes[0][1]


def test_a_virtual_or_field_visit_publishes_nothing_either_stu3_system_too() -> None:
    assert mapped(visit("VR"))[0] == []
    assert mapped(visit("FLD", status="in-progress"))[0] == []
    assert mapped(visit("AMB", system=HL7_ACT_CODE_STU3))[0] == []


def test_a_clinic_no_rule_places_is_no_refusal() -> None:
    events, notes = mapped(visit("AMB", status="arrived", location=[CLINIC]))

    assert events == []
    assert [element for element, _ in notes] == ["Encounter.class"]


def test_an_ambulatory_visit_at_the_emergency_department_is_an_attendance() -> None:
    at_ed = [{**CLINIC, "location": {"identifier": {"value": "lth-ed"}}}]

    events = events_of(visit("AMB", location=at_ed), front_door=FRONT_DOOR)

    assert [event.event["event_id"] for event in events] == [
        "SPELL-55123:attendance",
        "SPELL-55123:attendance:departure",
    ]


def test_an_ambulatory_encounter_with_admission_details_is_an_admission() -> None:
    document = finished(**{"class": {"system": HL7_ACT_CODE, "code": "AMB"}})

    assert [e.event["event_type"] for e in events_of(document)] == ["admission", "discharge"]


def test_an_inpatient_or_home_health_encounter_without_admission_details_is_still_admitted() -> (
    None
):
    inpatient = visit("IMP")
    home = encounter(**{"class": {"system": HL7_ACT_CODE, "code": "HH"}})
    del home["hospitalization"]

    assert mapped(inpatient)[0] == ["admission", "discharge"]
    assert mapped(home)[0] == ["admission"]


def test_a_home_visit_only_the_default_would_put_on_a_ward_publishes_nothing() -> None:
    # Synthea's home visits and hospice stays at home (class HH) at places no rule maps became
    # ward admissions through a trust's default service.
    defaulted = {"RR8": MappingProfile(organisation="RR8", default_service="lth-wards")}
    home = {"location": {"display": "Patient's home"}, "status": "completed"}
    document = visit("HH", location=[home])

    def read(bedded: frozenset[str]) -> tuple[list[str], list[str]]:
        result = map_encounter(
            Encounter.model_validate(document),
            organisation="RR8",
            now=NOW,
            profiles=defaulted,
            bedded=bedded,
        )
        assert not isinstance(result, Rejected), result
        return [e.event["event_type"] for e in result.events], [n.message for n in result.notes]

    events, notes = read(frozenset({"lth-wards"}))
    assert events == []
    assert any("class HH (home health)" in note and "nothing published" in note for note in notes)
    # A default service without beds (a community provider's reablement) takes it as before.
    assert read(frozenset())[0] == ["admission", "discharge"]


#: Epic's own Encounter classes (its sandbox): 4 is an office visit ("HOV"), 1 an inpatient one.
EPIC_CLASS = "urn:oid:1.2.840.114350.1.72.1.7.7.10.696784.13260"
EPIC_ONLY = {"extension": [{"url": "http://open.epic.com/FHIR/x", "valueString": "4"}]}


def epic_visit(code: str, classes: dict[str, str] | None) -> tuple[list[str], list[str]]:
    """An in-progress Epic visit of class `code` with Epic's extension-only `hospitalization`,
    read through a profile whose `codes.patient_class` is `classes` (None: no profile)."""
    document = encounter(
        **{"class": {"system": EPIC_CLASS, "code": code}, "hospitalization": EPIC_ONLY}
    )
    profile = MappingProfile.model_validate(
        {"organisation": "RR8", "codes": {"patient_class": classes or {}}}
    )
    result = map_encounter(
        Encounter.model_validate(document),
        organisation="RR8",
        now=NOW,
        profiles={"RR8": profile} if classes is not None else None,
        services={"lth-ed", "lth-wards"},
    )
    assert not isinstance(result, Rejected), result
    return [e.event["event_type"] for e in result.events], [n.message for n in result.notes]


def test_a_vendor_class_the_profile_makes_an_outpatient_one_publishes_nothing() -> None:
    # Epic's office visits became emergency ward admissions, open for years.
    events, notes = epic_visit("4", {"4": "outpatient", "1": "inpatient"})
    assert events == []
    assert any("class 4 holds no bed" in note for note in notes)


def test_a_vendor_class_no_profile_names_is_a_stay_with_a_warning_naming_it() -> None:
    events, notes = epic_visit("4", None)
    assert events == ["admission"]
    assert any(f"class {EPIC_CLASS}|4 is no HL7 v3 ActCode" in note for note in notes)
    # An inpatient class the profile names is a stay, without the warning.
    events, notes = epic_visit("1", {"4": "outpatient", "1": "inpatient"})
    assert events == ["admission"]
    assert not any("ActCode" in note for note in notes)


def test_admission_details_in_an_nhs_extension_alone_still_admit_an_ambulatory_class() -> None:
    method = {
        "url": ADMISSION_METHOD_EXTENSION,
        "valueCodeableConcept": {"coding": [{"code": "11"}]},
    }
    document = visit("AMB")
    document["hospitalization"] = {"extension": [method]}
    assert mapped(document)[0] == ["admission", "discharge"]
    document["hospitalization"] = EPIC_ONLY  # a vendor's extension says nothing of one
    assert mapped(document)[0] == []


#: Oracle Health (Cerner) Millennium's class where no v3 code is mapped: HL7 v2 table 0004.
V2_CLASS = "http://terminology.hl7.org/CodeSystem/v2-0004"
#: What Millennium's documentation Encounter of a cardiology clinic visit carries.
SAYS_NOTHING = {
    "admitSource": {
        "coding": [
            {"system": "http://terminology.hl7.org/CodeSystem/admit-source", "code": "other"}
        ]
    },
    "dischargeDisposition": {
        "coding": [
            {
                "system": "http://terminology.hl7.org/CodeSystem/discharge-disposition",
                "code": "home",
            }
        ]
    },
}


def test_an_outpatient_class_of_hl7_v2s_table_is_no_admission_whatever_hospitalization_holds() -> (
    None
):
    # A clinic visit became an emergency ward admission of 13.5 hours.
    document = visit("O", system=V2_CLASS, hospitalization=SAYS_NOTHING)
    assert mapped(document)[0] == []
    assert mapped(visit("R", system=V2_CLASS))[0] == []
    # An inpatient class of the same table is a stay, with no warning of an unknown class.
    events, notes = mapped(visit("I", system=V2_CLASS, hospitalization=SAYS_NOTHING))
    assert events == ["admission", "discharge"]
    assert not [element for element, _ in notes if element == "Encounter.class"]


def test_a_class_the_profile_names_outpatient_wins_over_admission_details() -> None:
    # "A code listed here wins" (a profile's codes.patient_class), admission details or not.
    document = encounter(
        **{"class": {"system": EPIC_CLASS, "code": "4"}, "hospitalization": SAYS_NOTHING}
    )
    profile = MappingProfile.model_validate(
        {"organisation": "RR8", "codes": {"patient_class": {"4": "outpatient"}}}
    )
    result = map_encounter(
        Encounter.model_validate(document),
        organisation="RR8",
        now=NOW,
        profiles={"RR8": profile},
        services={"lth-ed", "lth-wards"},
    )
    assert not isinstance(result, Rejected), result
    assert result.events == []
