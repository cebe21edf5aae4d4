"""FHIR Encounter to events: what an integration engineer sends becomes the events a bed manager
would expect, with ids that make a resend change nothing, or a reason naming the element."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fhir.resources.R4B.encounter import Encounter

from flowsight.adapters.catalogue import load_catalogue
from flowsight.adapters.fhir.elements import NHS_NUMBER_SYSTEM
from flowsight.adapters.fhir.mapping import map_encounter
from flowsight.adapters.fhir.terminology import (
    ADMISSION_METHOD_ENGLAND,
    ADMISSION_METHOD_EXTENSION,
    DISCHARGE_DESTINATION_ENGLAND,
    FLOWSIGHT_DISCHARGE_DESTINATION,
    HL7_ACT_CODE,
    HL7_ADMIT_SOURCE,
    HL7_DISCHARGE_DISPOSITION,
    SNOMED_CT,
    SOURCE_OF_ADMISSION_ENGLAND,
)
from flowsight.services.validation import Accepted, Rejected, ValidationContext, validate_document
from flowsight.settings import DEFAULT_CATALOGUE
from tests.adapters.fhir.encounters import (
    DATED,
    NHS_NUMBER,
    NOW,
    bodies,
    encounter,
    events_of,
    finished,
    mapped_of,
    problem_of,
)

# -- admission ---------------------------------------------------------------------------------


def test_an_in_progress_encounter_is_an_admission_to_its_location_service() -> None:
    assert bodies(encounter()) == [
        {
            "event_id": "SPELL-55123:admission",
            "event_type": "admission",
            "schema_version": "1",
            "source": "RR8/fhir",
            "patient": {"nhs_number": NHS_NUMBER},
            "episode_id": "SPELL-55123",
            "service": "lth-wards",
            "unit": "Ward 12",
            "occurred_at": "2025-03-10T09:40:00+00:00",
            "admission_method": "emergency",
        }
    ]


def test_every_mapped_event_passes_the_event_contract_and_the_catalogue() -> None:
    context = ValidationContext(load_catalogue(DEFAULT_CATALOGUE), b"k" * 32, timedelta(minutes=5))
    history = finished(
        location=[
            {"location": {"identifier": {"value": "lth-ed"}}},
            {
                "location": {"identifier": {"value": "lth-wards"}},
                "period": {"start": "2025-03-10T13:00:00+00:00"},
            },
        ]
    )
    for document in (encounter(), history, encounter(status="entered-in-error")):
        for mapped in events_of(document):
            outcome = validate_document(mapped.event, organisation="RR8", context=context, now=NOW)
            assert isinstance(outcome, Accepted), (mapped.event, outcome)


def test_a_resend_or_a_new_version_maps_to_the_same_event_ids() -> None:
    first = bodies(encounter(meta=DATED))
    again = encounter(meta={"versionId": "7", "lastUpdated": "2025-03-11T08:00:00+00:00"})
    discharged = finished()

    # The same events, the new version's recording time aside (a retraction's own time too).
    assert [said(body) for body in bodies(again)] == [said(body) for body in first]
    assert {body.get("recorded_at") for body in bodies(again)} == {"2025-03-11T08:00:00+00:00"}
    # The discharge snapshot repeats the admission with its id, so it is absorbed downstream.
    assert [event["event_id"] for event in bodies(discharged)] == [
        "SPELL-55123:admission",
        "SPELL-55123:discharge",
    ]


def said(body: dict[str, Any]) -> dict[str, Any]:
    """What an event says, when the version it came from was recorded aside."""
    times = {"recorded_at"} | ({"occurred_at"} if body["event_type"] == "cancellation" else set())
    return {name: value for name, value in body.items() if name not in times}


def test_a_dated_version_the_patient_has_not_left_withdraws_a_discharge_if_one_was_said() -> None:
    # A discharge cancelled (HL7's A13) comes as the Encounter back in-progress: nothing else
    # says a discharge published by an earlier version no longer stands.
    for status in ("in-progress", "onleave"):
        *_, withdrawn = bodies(encounter(status=status, meta=DATED))
        assert withdrawn["event_id"] == "SPELL-55123:discharge:withdrawn"
        assert (withdrawn["event_type"], withdrawn["cancels_event_id"]) == (
            "cancellation",
            "SPELL-55123:discharge",
        )
        assert (withdrawn["if_present"], withdrawn["occurred_at"]) == (True, DATED["lastUpdated"])
    # Undated, a discharge said again later could not take effect again: nothing is withdrawn.
    assert [body["event_type"] for body in bodies(encounter())] == ["admission"]
    # A finished version says the discharge itself.
    assert [body["event_type"] for body in bodies(finished(meta=DATED))] == [
        "admission",
        "discharge",
    ]


def test_the_spell_posted_without_an_id_and_read_back_with_one_maps_to_the_same_ids() -> None:
    # A transaction's POST carries no id; the same Encounter from a server or a subscription
    # does. The spell's identifier names the events either way, or it would be admitted twice.
    posted = encounter()
    del posted["id"]

    assert bodies(posted) == bodies(encounter())


def method_extension(code: str) -> dict[str, Any]:
    coding = {"system": ADMISSION_METHOD_ENGLAND, "code": code}
    return {"url": ADMISSION_METHOD_EXTENSION, "valueCodeableConcept": {"coding": [coding]}}


def admit_source(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}]}


@pytest.mark.parametrize(
    ("hospitalization", "encounter_class", "expected"),
    [
        pytest.param(
            {
                "extension": [method_extension("12")],
                "admitSource": admit_source(HL7_ADMIT_SOURCE, "emd"),
            },
            "EMER",
            "elective",
            id="extension-wins",
        ),
        pytest.param(
            {"extension": [method_extension("81")]}, "IMP", "transfer_in", id="extension-transfer"
        ),
        pytest.param(
            {"extension": [method_extension("82")]}, "IMP", "emergency", id="extension-birth"
        ),
        pytest.param(
            {
                "extension": [method_extension("99")],
                "admitSource": admit_source(HL7_ADMIT_SOURCE, "hosp-trans"),
            },
            "EMER",
            "transfer_in",
            id="unknown-method-falls-to-admit-source",
        ),
        pytest.param(
            {"admitSource": admit_source(SOURCE_OF_ADMISSION_ENGLAND, "51")},
            "IMP",
            "transfer_in",
            id="uk-source-other-hospital",
        ),
        pytest.param(
            {"admitSource": admit_source(HL7_ADMIT_SOURCE, "outp")},
            "IMP",
            "elective",
            id="hl7-outpatients",
        ),
        pytest.param(
            {"admitSource": admit_source(SOURCE_OF_ADMISSION_ENGLAND, "19")},
            "EMER",
            "emergency",
            id="home-source-falls-to-class",
        ),
        pytest.param(None, "HH", "start_of_care", id="home-health-class"),
    ],
)
def test_the_admission_method_comes_from_the_extension_then_admit_source_then_class(
    hospitalization: dict[str, Any] | None, encounter_class: str, expected: str
) -> None:
    document = encounter(hospitalization=hospitalization)
    document["class"] = {"system": HL7_ACT_CODE, "code": encounter_class}

    assert bodies(document)[0]["admission_method"] == expected


def test_the_extension_is_also_read_on_the_encounter_itself() -> None:
    document = encounter(hospitalization=None, extension=[method_extension("11")])

    admission = events_of(document)[0]

    assert admission.event["admission_method"] == "elective"
    assert admission.element_of("admission_method") == "Encounter.extension"


# An admission method that cannot be told: test_unstated_admission_method.py.


# -- transfer ----------------------------------------------------------------------------------


def test_a_new_location_in_the_history_is_a_transfer_at_its_start() -> None:
    document = encounter(
        location=[
            {"location": {"identifier": {"value": "lth-ed"}}, "status": "completed"},
            {
                "location": {"identifier": {"value": "lth-wards"}, "display": "Ward 12"},
                "status": "active",
                "period": {"start": "2025-03-10T13:05:00+00:00"},
            },
            {"location": {"identifier": {"value": "lch-community-beds"}}, "status": "planned"},
        ]
    )

    admission, transfer = bodies(document)

    assert admission["service"] == "lth-ed"
    assert transfer == {
        "event_id": "SPELL-55123:transfer:1",
        "event_type": "transfer",
        "schema_version": "1",
        "source": "RR8/fhir",
        "patient": {"nhs_number": NHS_NUMBER},
        "episode_id": "SPELL-55123",
        "service": "lth-ed",
        "from_service": "lth-ed",
        "to_service": "lth-wards",
        "to_unit": "Ward 12",
        "occurred_at": "2025-03-10T13:05:00+00:00",
    }


def test_a_move_between_wards_of_one_service_is_a_transfer_to_the_new_unit() -> None:
    document = encounter(
        location=[
            {"location": {"reference": "Location/lth-wards", "display": "Ward 12"}},
            {
                "location": {"reference": "Location/lth-wards", "display": "Ward 30"},
                "period": {"start": "2025-03-11T10:00:00+00:00"},
            },
        ]
    )

    admission, transfer = bodies(document)

    assert (admission["service"], admission["unit"]) == ("lth-wards", "Ward 12")
    assert (transfer["to_service"], transfer["to_unit"]) == ("lth-wards", "Ward 30")


def test_a_ward_named_over_two_lines_is_one_unit_on_one_line() -> None:
    # A FHIR string may break lines; the contract's unit is one line and refuses a line break.
    document = encounter(
        location=[
            {"location": {"reference": "Location/lth-wards", "display": "Ward 12 \r\nLevel 3"}},
            {
                "location": {"reference": "Location/lth-wards", "display": "Ward\t30"},
                "period": {"start": "2025-03-11T10:00:00+00:00"},
            },
        ]
    )
    context = ValidationContext(load_catalogue(DEFAULT_CATALOGUE), b"k" * 32, timedelta(minutes=5))

    admission, transfer = bodies(document)

    assert (admission["unit"], transfer["to_unit"]) == ("Ward 12 Level 3", "Ward 30")
    for event in (admission, transfer):
        outcome = validate_document(event, organisation="RR8", context=context, now=NOW)
        assert isinstance(outcome, Accepted), outcome


def test_a_move_without_a_start_is_left_out_with_a_warning_naming_that_location_period() -> None:
    document = encounter(
        location=[
            {"location": {"identifier": {"value": "lth-ed"}}},
            {"location": {"identifier": {"value": "lth-wards"}}},
        ]
    )

    mapped = mapped_of(document)

    assert [(m.event["event_type"], m.event["service"]) for m in mapped.events] == [
        ("admission", "lth-wards")
    ]
    assert "Encounter.location[1].period.start" in [note.element for note in mapped.notes]


def test_a_location_without_a_service_id_is_named() -> None:
    document = encounter(location=[{"location": {"display": "Ward 12"}}])

    problem = problem_of(document)

    assert problem.field == "Encounter.location[0].location.identifier.value"
    assert "flowsight service id" in problem.message


# -- discharge ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("system", "code", "destination"),
    [
        (DISCHARGE_DESTINATION_ENGLAND, "19", "usual_residence"),
        (DISCHARGE_DESTINATION_ENGLAND, "29", "other"),
        (DISCHARGE_DESTINATION_ENGLAND, "51", "other_hospital"),
        (DISCHARGE_DESTINATION_ENGLAND, "54", "care_home_nursing"),
        (DISCHARGE_DESTINATION_ENGLAND, "65", "care_home_residential"),
        (DISCHARGE_DESTINATION_ENGLAND, "85", "care_home_residential"),
        (DISCHARGE_DESTINATION_ENGLAND, "79", "died"),
        (DISCHARGE_DESTINATION_ENGLAND, "88", "hospice"),
        (DISCHARGE_DESTINATION_ENGLAND, "98", "other"),
        (HL7_DISCHARGE_DISPOSITION, "home", "usual_residence"),
        (HL7_DISCHARGE_DISPOSITION, "rehab", "short_term_bed"),
        (HL7_DISCHARGE_DISPOSITION, "snf", "care_home_nursing"),
        (HL7_DISCHARGE_DISPOSITION, "exp", "died"),
        (FLOWSIGHT_DISCHARGE_DESTINATION, "usual_residence_with_support", None),
    ],
)
def test_a_finished_encounter_is_a_discharge_to_the_mapped_destination(
    system: str, code: str, destination: str | None
) -> None:
    document = finished(
        {"coding": [{"system": "urn:unknown", "code": "x"}, {"system": system, "code": code}]}
    )

    discharge = bodies(document)[-1]

    assert discharge["event_type"] == "discharge"
    assert discharge["destination"] == (destination or code)
    assert discharge["occurred_at"] == "2025-03-14T15:00:00+00:00"
    assert discharge["service"] == "lth-wards"


def test_a_discharge_is_from_the_last_location() -> None:
    document = finished(
        location=[
            {"location": {"identifier": {"value": "lth-ed"}}},
            {
                "location": {"identifier": {"value": "lth-wards"}},
                "period": {"start": "2025-03-10T13:00:00+00:00"},
            },
        ]
    )

    types = [(event["event_type"], event["service"]) for event in bodies(document)]

    assert types == [("admission", "lth-ed"), ("transfer", "lth-ed"), ("discharge", "lth-wards")]


def test_a_destination_no_table_knows_is_other_with_a_warning_naming_the_code() -> None:
    document = finished({"coding": [{"system": DISCHARGE_DESTINATION_ENGLAND, "code": "97"}]})

    mapped = mapped_of(document)

    assert mapped.events[-1].event["destination"] == "other"
    [note] = mapped.notes
    assert note.element == "Encounter.hospitalization.dischargeDisposition"
    assert f"{DISCHARGE_DESTINATION_ENGLAND}|97" in note.message


def test_a_finished_encounter_needs_its_end_and_without_a_disposition_went_to_other() -> None:
    no_end = finished(period={"start": "2025-03-10T09:40:00+00:00"})
    no_disposition = finished()
    del no_disposition["hospitalization"]["dischargeDisposition"]

    assert problem_of(no_end).field == "Encounter.period.end"
    mapped = mapped_of(no_disposition)
    assert mapped.events[-1].event["destination"] == "other"
    assert [n.element for n in mapped.notes] == ["Encounter.hospitalization.dischargeDisposition"]


# -- retraction and statuses -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "if_present"), [("entered-in-error", None), ("cancelled", True)]
)
def test_a_retracted_encounter_cancels_everything_it_could_have_said(
    status: str, if_present: bool | None
) -> None:
    """Entered in error, every event is retracted; cancelled (it never began), each is withdrawn
    if present: tests/adapters/fhir/test_cancelled_encounter.py."""
    document = encounter(
        status=status,
        meta=DATED,
        location=[
            {"location": {"identifier": {"value": "lth-ed"}}},
            {
                "location": {"identifier": {"value": "lth-wards"}},
                "period": {"start": "2025-03-10T13:00:00+00:00"},
            },
        ],
    )

    cancellations = bodies(document)

    assert [(c["event_type"], c["cancels_event_id"], c["service"]) for c in cancellations] == [
        ("cancellation", "SPELL-55123:admission", "lth-ed"),
        ("cancellation", "SPELL-55123:transfer:1", "lth-ed"),
        ("cancellation", "SPELL-55123:discharge", "lth-wards"),
    ]
    assert {c["occurred_at"] for c in cancellations} == {"2025-03-10T09:45:00+00:00"}
    assert {c.get("if_present") for c in cancellations} == {if_present}


@pytest.mark.parametrize("status", ["cancelled", "entered-in-error"])
def test_an_encounter_that_never_began_is_retracted_with_nothing_and_a_note(status: str) -> None:
    planned = {"location": {"identifier": {"value": "lth-wards"}}, "status": "planned"}

    mapped = mapped_of(encounter(status=status, location=[planned]))

    assert mapped.events == []
    assert [note.element for note in mapped.notes] == ["Encounter.location"]
    assert "never began" in mapped.notes[0].message


def test_a_retraction_without_last_updated_is_timed_now() -> None:
    document = encounter(status="entered-in-error", meta=None)

    assert bodies(document)[0]["occurred_at"] == NOW.isoformat()


@pytest.mark.parametrize("status", ["planned", "arrived", "triaged"])
def test_an_encounter_not_begun_publishes_nothing_with_a_warning(status: str) -> None:
    mapped = map_encounter(
        Encounter.model_validate(encounter(status=status)), organisation="RR8", now=NOW
    )

    assert not isinstance(mapped, Rejected), mapped
    assert mapped.events == []
    assert [note.element for note in mapped.notes] == ["Encounter.status"]


@pytest.mark.parametrize("status", ["unknown", "made-up"])
def test_statuses_that_say_nothing_are_not_supported(status: str) -> None:
    problem = problem_of(encounter(status=status))

    assert (problem.reason, problem.field) == ("unsupported_encounter", "Encounter.status")
    assert repr(status) in problem.message


# -- identity ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "system",
    [
        "urn:oid:2.16.840.1.113883.2.1.4.1",
        "http://fhir.nhs.net/Id/nhs-number",
        "http://fhir.nhs.uk/Id/nhs-number",  # http, as NHS code's constants spell it
        "https://fhir.nhs.uk/Id/nhs-number/",
        "https://FHIR.NHS.UK/Id/nhs-number",  # a host in capitals: the same address
    ],
)
def test_an_nhs_number_under_its_oid_or_older_address_is_the_nhs_number(system: str) -> None:
    # A local id would give the patient a second pseudonym and skip the check digit.
    document = encounter(subject={"identifier": {"system": system, "value": NHS_NUMBER}})

    assert bodies(document)[0]["patient"] == {"nhs_number": NHS_NUMBER}


def test_a_local_patient_identifier_becomes_local_id_and_its_system() -> None:
    document = encounter(
        subject={"identifier": {"system": "https://fhir.rr8.example/Id/mrn", "value": "MRN-1"}}
    )

    assert bodies(document)[0]["patient"] == {
        "local_id": "MRN-1",
        "id_system": "https://fhir.rr8.example/Id/mrn",
    }


@pytest.mark.parametrize(
    ("subject", "element"),
    [
        ({"reference": "Patient/123"}, "Encounter.subject.reference"),
        ({"display": "Richard Smith"}, "Encounter.subject.identifier"),
        ({"identifier": {"value": "MRN-1"}}, "Encounter.subject.identifier.system"),
    ],
)
def test_a_patient_that_cannot_be_identified_is_named(
    subject: dict[str, Any], element: str
) -> None:
    problem = problem_of(encounter(subject=subject))

    assert (problem.reason, problem.field) == ("missing_field", element)


def test_an_identifier_in_the_nhs_number_system_never_names_the_events() -> None:
    nhs = {"system": NHS_NUMBER_SYSTEM, "value": NHS_NUMBER}
    spell = {"system": "https://fhir.rr8.example/Id/spell", "value": "SPELL-55123"}

    events = bodies(encounter(identifier=[nhs, spell])) + bodies(encounter(identifier=[nhs]))

    assert [event["episode_id"] for event in events] == ["SPELL-55123", "enc-7781"]
    assert NHS_NUMBER not in repr(events).replace(repr({"nhs_number": NHS_NUMBER}), "")


def test_an_encounter_without_an_identifier_or_an_id_is_refused() -> None:
    problem = problem_of(encounter(identifier=None, id=None))

    assert (problem.reason, problem.field) == ("missing_field", "Encounter.identifier")


def test_a_start_without_a_time_and_offset_is_refused() -> None:
    problem = problem_of(encounter(period={"start": "2025-03-10"}))

    assert (problem.reason, problem.field) == ("invalid_field", "Encounter.period.start")
    assert "offset" in problem.message


def test_without_a_service_provider_the_key_organisation_is_the_source() -> None:
    document = encounter(serviceProvider=None)

    assert bodies(document)[0]["source"] == "RR8/fhir"
    assert problem_of(document, organisation=None).field == (
        "Encounter.serviceProvider.identifier.value"
    )


def test_the_service_provider_ods_code_is_the_source_organisation() -> None:
    document = encounter(serviceProvider={"identifier": {"value": "RY6"}})

    assert bodies(document)[0]["source"] == "RY6/fhir"


def test_each_event_field_names_the_element_it_came_from() -> None:
    admission = events_of(encounter())[0]

    assert admission.element_of("patient.nhs_number") == "Encounter.subject.identifier.value"
    assert admission.element_of("service") == "Encounter.location[0].location.identifier.value"
    assert admission.element_of("source") == "Encounter.serviceProvider.identifier.value"
    assert admission.element_of("occurred_at") == "Encounter.period.start"
    assert admission.element_of("episode_id") == "Encounter.identifier[0].value"
    assert admission.element_of("admission_method") == "Encounter.hospitalization.extension"
    assert admission.element_of("correlation_id") == "Encounter"


# -- the emergency department ------------------------------------------------------------------

FRONT_DOOR = frozenset({"lth-ed"})
ED_THEN_WARD = [
    {"location": {"identifier": {"value": "lth-ed"}}},
    {
        "location": {"identifier": {"value": "lth-wards"}, "display": "Ward 12"},
        "period": {"start": "2025-03-10T13:10:00+00:00"},
    },
]


NUBC = "http://www.nubc.org/patient-discharge"


def department_events(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [mapped.event for mapped in events_of(document, front_door=FRONT_DOOR)]


def ed_only(**changes: Any) -> dict[str, Any]:
    return encounter(
        **{"class": {"system": HL7_ACT_CODE, "code": "EMER"}},
        location=[{"location": {"identifier": {"value": "lth-ed"}}, "status": "active"}],
        **changes,
    )


def test_an_encounter_in_the_emergency_department_is_an_attendance_not_an_admission() -> None:
    (arrival,) = department_events(ed_only())
    assert arrival == {
        "event_id": "SPELL-55123:attendance",
        "event_type": "attendance",
        "schema_version": "1",
        "source": "RR8/fhir",
        "patient": {"nhs_number": NHS_NUMBER},
        "episode_id": "SPELL-55123",
        "service": "lth-ed",
        "occurred_at": "2025-03-10T09:40:00+00:00",
        "arrived_at": "2025-03-10T09:40:00+00:00",
    }


@pytest.mark.parametrize(
    ("disposition", "outcome"),
    [
        (None, "discharged"),
        ({"coding": [{"system": DISCHARGE_DESTINATION_ENGLAND, "code": "19"}]}, "discharged"),
        ({"coding": [{"system": DISCHARGE_DESTINATION_ENGLAND, "code": "49"}]}, "transferred"),
        ({"coding": [{"system": HL7_DISCHARGE_DISPOSITION, "code": "aadvice"}]}, "left"),
        # The ECDS discharge destinations UK emergency departments send (SNOMED CT).
        ({"coding": [{"system": SNOMED_CT, "code": "306706006"}]}, "admitted"),  # to a ward
        ({"coding": [{"system": SNOMED_CT, "code": "1066391000000105"}]}, "admitted"),  # ICU
        ({"coding": [{"system": SNOMED_CT, "code": "19712007"}]}, "transferred"),
        ({"coding": [{"system": SNOMED_CT, "code": "306689006"}]}, "discharged"),  # home
        # NUBC's Patient Discharge Status, as US Core and Synthea send it.
        ({"coding": [{"system": NUBC, "code": "01"}]}, "discharged"),  # home or self care
        ({"coding": [{"system": NUBC, "code": "09"}]}, "admitted"),  # to this hospital
        ({"coding": [{"system": NUBC, "code": "02"}]}, "transferred"),  # another hospital
        ({"coding": [{"system": NUBC, "code": "07"}]}, "left"),  # against medical advice
    ],
)
def test_leaving_the_department_is_the_attendance_departure_with_its_outcome(
    disposition: dict[str, Any] | None, outcome: str
) -> None:
    period = {"start": "2025-03-10T09:40:00+00:00", "end": "2025-03-10T14:05:00+00:00"}
    document = ed_only(status="finished", period=period)
    if disposition:
        document["hospitalization"]["dischargeDisposition"] = disposition

    arrival, departure = department_events(document)

    assert arrival["event_id"] == "SPELL-55123:attendance"
    assert {k: departure[k] for k in ("event_id", "service", "occurred_at", "outcome")} == {
        "event_id": "SPELL-55123:attendance:departure",
        "service": "lth-ed",
        "occurred_at": "2025-03-10T14:05:00+00:00",
        "outcome": outcome,
    }
    # Four hours and twenty-five minutes: the breach a bed manager would count.
    assert (departure["arrived_at"], departure["departed_at"]) == (
        "2025-03-10T09:40:00+00:00",
        "2025-03-10T14:05:00+00:00",
    )


def test_moving_on_to_a_ward_is_leaving_the_department_admitted_then_an_admission() -> None:
    period = {"start": "2025-03-10T09:40:00+00:00", "end": "2025-03-14T15:00:00+00:00"}
    document = finished(
        location=ED_THEN_WARD, period=period, **{"class": {"system": HL7_ACT_CODE, "code": "EMER"}}
    )

    events = department_events(document)

    assert [(e["event_id"], e["event_type"], e["service"], e["occurred_at"]) for e in events] == [
        ("SPELL-55123:attendance", "attendance", "lth-ed", "2025-03-10T09:40:00+00:00"),
        ("SPELL-55123:attendance:departure", "attendance", "lth-ed", "2025-03-10T13:10:00+00:00"),
        ("SPELL-55123:admission", "admission", "lth-wards", "2025-03-10T13:10:00+00:00"),
        ("SPELL-55123:discharge", "discharge", "lth-wards", "2025-03-14T15:00:00+00:00"),
    ]
    assert events[1]["outcome"] == "admitted"
    assert (events[2]["admission_method"], events[2]["unit"]) == ("emergency", "Ward 12")


def test_every_department_event_passes_the_contract_and_the_catalogue() -> None:
    context = ValidationContext(load_catalogue(DEFAULT_CATALOGUE), b"k" * 32, timedelta(minutes=5))
    period = {"start": "2025-03-10T09:40:00+00:00", "end": "2025-03-14T15:00:00+00:00"}
    documents = [
        ed_only(),
        finished(location=ED_THEN_WARD, period=period),
        ed_only(status="cancelled", meta=DATED),
        ed_only(status="entered-in-error"),
    ]
    for document in documents:
        for event in department_events(document):
            outcome = validate_document(event, organisation="RR8", context=context, now=NOW)
            assert isinstance(outcome, Accepted), (event, outcome)


@pytest.mark.parametrize(
    "changes", [{"status": "entered-in-error"}, {"status": "cancelled", "meta": DATED}]
)
def test_a_retracted_department_encounter_cancels_the_attendance_and_what_followed(
    changes: dict[str, Any],
) -> None:
    document = encounter(location=ED_THEN_WARD, **changes)

    cancelled = [c["cancels_event_id"] for c in department_events(document)]

    assert cancelled == [
        "SPELL-55123:attendance",
        "SPELL-55123:attendance:departure",
        "SPELL-55123:admission",
        "SPELL-55123:discharge",
    ]


def test_a_patient_who_left_for_a_ward_at_no_stated_time_is_admitted_there_with_a_warning() -> None:
    """The ward is where the patient is: admitted there at the Encounter's start, where the
    Encounter was refused and the patient never reached the ward's board."""
    location = [ED_THEN_WARD[0], {"location": {"identifier": {"value": "lth-wards"}}}]
    mapped = map_encounter(
        Encounter.model_validate(encounter(location=location)),
        organisation="RR8",
        now=NOW,
        front_door=FRONT_DOOR,
    )

    assert not isinstance(mapped, Rejected), mapped
    [admission] = [m.event for m in mapped.events]
    assert (admission["event_type"], admission["service"], admission["occurred_at"]) == (
        "admission",
        "lth-wards",
        "2025-03-10T09:40:00+00:00",
    )
    assert "Encounter.location[1].period.start" in [note.element for note in mapped.notes]


def test_an_end_on_a_version_the_patient_has_not_left_is_said_not_read() -> None:
    period = {"start": "2025-03-10T09:40:00+00:00", "end": "2025-03-14T15:00:00+00:00"}
    mapped = mapped_of(encounter(period=period))

    assert [m.event["event_type"] for m in mapped.events] == ["admission"]
    assert [n.element for n in mapped.notes] == ["Encounter.period.end"]
    assert "no discharge is published" in mapped.notes[0].message


@pytest.mark.parametrize("status", ["arrived", "triaged", "in-progress"])
def test_an_end_on_a_version_still_in_the_department_is_said_not_read(status: str) -> None:
    # NHS Wales' ED examples: arrived, with a period.end, ended nothing and said nothing.
    period = {"start": "2025-03-10T09:40:00+00:00", "end": "2025-03-10T13:00:00+00:00"}
    document = ed_only(status=status, period=period)
    mapped = map_encounter(
        Encounter.model_validate(document), organisation="RR8", now=NOW, front_door=FRONT_DOOR
    )

    assert not isinstance(mapped, Rejected), mapped
    assert [m.event["event_type"] for m in mapped.events] == ["attendance"]
    assert "Encounter.period.end" in [n.element for n in mapped.notes]
