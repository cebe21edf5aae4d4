"""Shapes of real FHIR feeds found in public examples (the HL7 R4 emerg example, NHS England's
IOPS and UK Core examples, PDS-style references): each becomes the events a bed manager would
expect, or a refusal naming the element and never the patient's NHS number."""

from __future__ import annotations

import json
from typing import Any

import pytest

from flowsight.adapters.fhir.intake import FHIR_MAX_DEPTH, resource_of
from flowsight.adapters.fhir.outcome import Answer
from flowsight.adapters.fhir.terminology import SNOMED_CT
from tests.adapters.fhir.encounters import NHS_NUMBER, encounter, finished
from tests.adapters.fhir.test_real_feeds import (
    NHS,
    a_patient,
    entry,
    examined,
    refusal,
    transaction,
)

WARD_12 = {"identifier": {"value": "lth-wards"}, "display": "Ward 12"}
WARD_14 = {"identifier": {"value": "lth-wards"}, "display": "Ward 14"}


def ids(document: dict[str, Any]) -> list[str]:
    return [accepted.event["event_id"] for accepted in examined(document).events]


def in_department(status: str, **changes: Any) -> dict[str, Any]:
    return encounter(
        status=status,
        location=[{"location": {"identifier": {"value": "lth-ed"}}, "status": "active"}],
        **changes,
    )


# -- the body ------------------------------------------------------------------------------------


def test_a_body_nested_too_deeply_is_a_400_dead_lettered_not_a_crash() -> None:
    deep: dict[str, Any] = {"url": "https://example.org/x", "valueString": "end"}
    for _ in range(300):  # within the standard library's reach, beyond orjson's 255 levels
        deep = {"url": "https://example.org/x", "extension": [deep]}
    body = json.dumps(transaction(entry(encounter(extension=[deep])))).encode()

    answer = resource_of(body, "Bundle")

    assert isinstance(answer, Answer)
    assert answer.status == 400
    assert f"more than {FHIR_MAX_DEPTH} levels" in answer.issues[0].diagnostics
    assert answer.dead_letters == [(body, answer.dead_letters[0][1])]


# -- the patient ---------------------------------------------------------------------------------


def test_a_conditional_patient_reference_stands_for_the_patient_it_searches_for() -> None:
    document = transaction(
        entry(encounter(subject={"reference": f"Patient?identifier={NHS}|{NHS_NUMBER}"}))
    )

    [admission] = examined(document).events

    assert admission.event["patient"] == {"nhs_number": NHS_NUMBER}


def test_an_invalid_patient_is_refused_by_element_without_its_values() -> None:
    patient = a_patient(identifier={"system": NHS, "value": NHS_NUMBER})  # not a list
    document = transaction(
        entry(patient, "urn:uuid:p1"), entry(encounter(subject={"reference": "urn:uuid:p1"}))
    )

    answer = refusal(document)

    said = (
        "not a valid Patient: identifier: must be a JSON array (the element repeats), not an object"
    )
    assert said in answer.issues[0].diagnostics
    assert NHS_NUMBER not in answer.issues[0].diagnostics
    assert NHS_NUMBER not in answer.dead_letters[0][1].message


def test_an_array_holding_null_is_refused_saying_so_not_that_an_array_is_no_array() -> None:
    document = transaction(entry(encounter()))
    document["entry"].append(None)

    answer = refusal(document)

    assert answer.issues[0].expression == "Bundle.entry"
    assert "must not hold null" in answer.issues[0].diagnostics, answer.issues[0].diagnostics


# -- times ---------------------------------------------------------------------------------------


def test_an_encounter_that_ends_before_it_starts_is_refused_naming_its_end() -> None:
    period = {"start": "2025-03-14T15:00:00+00:00", "end": "2025-03-10T09:40:00+00:00"}

    answer = refusal(finished(period=period))

    assert answer.issues[0].expression == "Encounter.period.end"
    assert "per-1" in answer.issues[0].diagnostics
    assert answer.dead_letters


def test_a_location_period_that_ends_before_it_starts_is_refused_naming_it() -> None:
    backwards = {"start": "2025-03-10T12:00:00+00:00", "end": "2025-03-10T10:00:00+00:00"}
    document = encounter(location=[{"location": WARD_12, "period": backwards}])

    assert refusal(document).issues[0].expression == "Encounter.location[0].period.end"


# -- codes ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("code", "method"), [("HH", "start_of_care"), ("EMER", "emergency")])
def test_a_class_under_stu3s_act_code_uri_is_read_as_r4s(code: str, method: str) -> None:
    # Feeds upgraded from STU3 still send v3-ActCode under its STU3 URI.
    document = encounter(hospitalization=None)
    document["class"] = {"system": "http://hl7.org/fhir/v3/ActCode", "code": code}

    result = examined(document)

    assert [accepted.event["admission_method"] for accepted in result.events] == [method]
    assert [issue for issue in result.notes if issue.severity == "warning"] == []


@pytest.mark.parametrize(("code", "method"), [("hosp-trans", "transfer_in"), ("outp", "elective")])
def test_an_admit_source_under_its_stu3_uri_is_read_as_under_r4s(code: str, method: str) -> None:
    document = encounter()
    document["hospitalization"] = {
        "admitSource": {"coding": [{"system": "http://hl7.org/fhir/admit-source", "code": code}]}
    }

    result = examined(document)

    assert [accepted.event["admission_method"] for accepted in result.events] == [method]
    assert [issue for issue in result.notes if issue.severity == "warning"] == []


@pytest.mark.parametrize(("code", "destination"), [("exp", "died"), ("home", "usual_residence")])
def test_a_discharge_disposition_under_its_stu3_uri_is_read_as_under_r4s(
    code: str, destination: str
) -> None:
    system = "http://hl7.org/fhir/discharge-disposition"
    document = finished({"coding": [{"system": system, "code": code}]})

    result = examined(document)

    assert result.events[-1].event["destination"] == destination
    assert [issue for issue in result.notes if issue.severity == "warning"] == []


# -- the emergency department --------------------------------------------------------------------


def test_a_patient_arrived_or_triaged_in_the_department_is_an_attendance() -> None:
    for status in ("arrived", "triaged"):
        [arrival] = examined(in_department(status)).events

        assert arrival.event["event_type"] == "attendance"
        assert arrival.event["arrived_at"] == "2025-03-10T09:40:00+00:00"
        assert arrival.event["event_id"] == "SPELL-55123:attendance"


def test_a_patient_arrived_at_a_ward_is_not_yet_admitted_and_nothing_is_dead_lettered() -> None:
    # Valid FHIR with nothing to publish yet, as an HL7 A05 is: 202 and a warning, not a 422
    # and a dead letter for every patient waiting to be admitted.
    for status in ("arrived", "triaged"):
        result = examined(encounter(status=status))

        assert result.events == []
        assert [note.expression for note in result.notes] == ["Encounter.status"]
        assert "nothing has been admitted yet" in (result.notes[0].diagnostics or "")


def test_a_department_outcome_no_table_knows_is_discharged_with_a_warning_naming_it() -> None:
    period = {"start": "2025-03-10T09:40:00+00:00", "end": "2025-03-10T12:00:00+00:00"}
    document = in_department("finished", period=period)
    document["hospitalization"]["dischargeDisposition"] = {
        "coding": [{"system": SNOMED_CT, "code": "999999999"}]
    }

    result = examined(document)

    assert result.events[-1].event["outcome"] == "discharged"
    [warning] = [issue for issue in result.notes if issue.severity == "warning"]
    assert f"{SNOMED_CT}|999999999" in warning.diagnostics


# -- ids that survive a resend -------------------------------------------------------------------


def test_a_reserved_bed_dropped_from_a_resent_history_keeps_the_transfer_ids() -> None:
    start = "2025-03-10T09:40:00+00:00"
    moved = {"location": WARD_14, "status": "active", "period": {"start": "2025-03-11T14:00:00Z"}}
    reserved = {"location": WARD_14, "status": "reserved"}
    first = encounter(
        location=[
            {"location": WARD_12, "status": "completed", "period": {"start": start}},
            reserved,
            moved,
        ]
    )
    again = encounter(location=[first["location"][0], moved])

    assert ids(first) == ids(again) == ["SPELL-55123:admission", "SPELL-55123:transfer:1"]


# -- an Encounter within another -----------------------------------------------------------------


def test_an_episode_sent_with_its_spell_is_noted_and_admits_nobody_twice() -> None:
    spell = encounter(id="spell-1")
    episode = encounter(
        id="episode-1",
        identifier=[{"system": "https://fhir.rr8.example/Id/episode", "value": "EP-1"}],
        partOf={"reference": "Encounter/spell-1"},
    )

    result = examined(transaction(entry(spell), entry(episode)))

    assert [accepted.event["event_id"] for accepted in result.events] == ["SPELL-55123:admission"]
    assert any(
        issue.expression == "Bundle.entry[1].resource.partOf" and issue.severity == "warning"
        for issue in result.notes
    )


def test_an_episode_sent_without_its_spell_is_refused_naming_part_of() -> None:
    episode = encounter(partOf={"reference": "Encounter/spell-1"})

    answer = refusal(episode)

    assert answer.issues[0].expression == "Encounter.partOf"
    assert answer.dead_letters


def test_the_admission_method_under_uk_core_stu1_s_system_is_read() -> None:
    # NHS England's IOPS examples still carry the NHS Data Dictionary code under this URI.
    stu1 = "https://fhir.hl7.org.uk/CodeSystem/NHSDataModelAndDictionary-AdmissionMethod"
    document = encounter()
    coding = document["hospitalization"]["extension"][0]["valueCodeableConcept"]["coding"][0]
    coding.update(system=stu1, code="12")

    [admission] = examined(document).events

    assert admission.event["admission_method"] == "elective"
