"""Event contract v1 (SPEC section 3): what validates and what an integration team gets refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from flowsight.schemas.events import EVENT_TYPES, Envelope, PatientEvent, event_adapter
from tests.schemas.examples import NHS_NUMBER_DIGITS, SPEC_EVENT_TYPES, example, without


def parse(document: dict[str, Any]) -> Envelope:
    """Validate `document` the way a consumer reading it off the wire would: from JSON text."""
    return event_adapter.validate_json(json.dumps(document))


def errors_of(document: dict[str, Any]) -> list[ErrorDetails]:
    with pytest.raises(ValidationError) as raised:
        parse(document)
    return list(raised.value.errors())


def failing_fields(document: dict[str, Any]) -> set[str]:
    """The dotted field paths that failed, without the discriminator's leading event type."""
    paths = set()
    for error in errors_of(document):
        location = [str(part) for part in error["loc"]]
        if location and location[0] in SPEC_EVENT_TYPES:
            location = location[1:]
        paths.add(".".join(location))
    return paths


def test_the_contract_has_exactly_the_event_types_of_the_spec() -> None:
    assert set(EVENT_TYPES) == set(SPEC_EVENT_TYPES)


@pytest.mark.parametrize("event_type", SPEC_EVENT_TYPES)
def test_a_realistic_document_of_every_event_type_validates(event_type: str) -> None:
    event = parse(example(event_type))

    assert type(event) is EVENT_TYPES[event_type]
    assert event.event_type == event_type  # type: ignore[attr-defined]
    assert event.occurred_at.tzinfo is not None
    assert event.organisation == example(event_type)["source"].split("/")[0]


@pytest.mark.parametrize("event_type", [t for t in SPEC_EVENT_TYPES if t != "capacity"])
def test_patient_events_keep_the_normalised_nhs_number(event_type: str) -> None:
    event = parse(example(event_type))

    assert isinstance(event, PatientEvent)
    assert event.patient.nhs_number == NHS_NUMBER_DIGITS


def test_offsets_are_kept_as_the_same_instant() -> None:
    event = parse(example("admission", occurred_at="2025-06-01T10:30:00+01:00"))

    assert event.occurred_at == datetime(2025, 6, 1, 9, 30, tzinfo=UTC)
    assert event.occurred_at.utcoffset() == timedelta(hours=1)


@pytest.mark.parametrize("event_type", SPEC_EVENT_TYPES)
def test_unknown_fields_are_refused(event_type: str) -> None:
    document = example(event_type, ward_name="J24")

    assert "ward_name" in failing_fields(document)
    assert {e["type"] for e in errors_of(document)} == {"extra_forbidden"}


def test_unknown_fields_inside_patient_are_refused() -> None:
    document = example("admission", patient={"nhs_number": "9434765919", "dob": "1941-02-03"})

    assert failing_fields(document) == {"patient.dob"}


def test_capacity_carries_no_patient() -> None:
    document = example("capacity", patient={"nhs_number": "9434765919"})

    assert failing_fields(document) == {"patient"}


@pytest.mark.parametrize(
    ("event_type", "field"),
    [
        ("admission", "occurred_at"),
        ("attendance", "arrived_at"),
        ("attendance", "departed_at"),
        ("assessment", "discharge_ready_at"),
        ("capacity", "occurred_at"),
    ],
)
def test_timestamps_without_an_offset_are_refused(event_type: str, field: str) -> None:
    document = example(event_type, **{field: "2025-03-10T09:15:00"})

    assert failing_fields(document) == {field}


@pytest.mark.parametrize("moment", [1764580000, 1764580000.5, "1764580000", " 1.7645e9 "])
@pytest.mark.parametrize(
    ("event_type", "field"),
    [
        ("admission", "occurred_at"),
        ("attendance", "arrived_at"),
        ("assessment", "discharge_ready_at"),
    ],
)
def test_a_unix_time_is_not_a_timestamp(event_type: str, field: str, moment: object) -> None:
    # pydantic alone reads these as moments in December 2025; the contract says RFC 3339.
    document = example(event_type, **{field: moment})

    assert failing_fields(document) == {field}


def test_departure_before_arrival_is_refused() -> None:
    document = example(
        "attendance", arrived_at="2025-03-10T09:00:00Z", departed_at="2025-03-10T08:59:59Z"
    )

    errors = errors_of(document)
    assert len(errors) == 1
    assert "departed_at is before arrived_at" in errors[0]["msg"]


def test_departure_compares_instants_not_wall_clock_times() -> None:
    # Arrived 09:00+01:00 (08:00 UTC), departed 08:30 UTC: earlier on the clock face, but half
    # an hour after arrival in real time, so not "before arrival".
    event = parse(
        example(
            "attendance", arrived_at="2025-06-01T09:00:00+01:00", departed_at="2025-06-01T08:30Z"
        )
    )
    assert event.departed_at - event.arrived_at == timedelta(minutes=30)  # type: ignore[attr-defined]


@pytest.mark.parametrize("departed_at", ["2025-03-10T09:00:00Z", None])
def test_departure_at_arrival_or_not_yet_is_accepted(departed_at: str | None) -> None:
    document = example("attendance", arrived_at="2025-03-10T09:00:00Z", departed_at=departed_at)

    assert parse(document).departed_at == (  # type: ignore[attr-defined]
        None if departed_at is None else datetime(2025, 3, 10, 9, tzinfo=UTC)
    )


def test_a_ctr_review_must_say_whether_criteria_to_reside_are_met() -> None:
    document = without(example("assessment"), "meets_criteria_to_reside")

    errors = errors_of(document)
    assert len(errors) == 1
    assert "meets_criteria_to_reside" in errors[0]["msg"]


def test_other_assessments_need_no_criteria_to_reside() -> None:
    document = without(
        example("assessment", kind="care_act", status="open"),
        "meets_criteria_to_reside",
        "discharge_ready_at",
        "delay_reason",
    )

    assert parse(document).kind == "care_act"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "patient",
    [
        {"nhs_number": "943 476 5919"},
        {"local_id": "MRN0012345", "id_system": "RR8/pas"},
        {"nhs_number": "9434765919", "local_id": "MRN0012345", "id_system": "RR8/pas"},
    ],
)
def test_a_patient_is_named_by_nhs_number_or_local_id_or_both(patient: dict[str, str]) -> None:
    event = parse(example("admission", patient=patient))

    assert isinstance(event, PatientEvent)
    assert event.patient.local_id == patient.get("local_id")


@pytest.mark.parametrize(
    ("patient", "message"),
    [
        ({}, "patient needs nhs_number or local_id"),
        ({"id_system": "RR8/pas"}, "patient needs nhs_number or local_id"),
        ({"local_id": "MRN0012345"}, "local_id needs id_system"),
        ({"nhs_number": "9434765918"}, "fails the Modulus 11 check digit"),
        ({"nhs_number": "1111111111"}, "placeholder"),
    ],
)
def test_a_patient_without_a_usable_identifier_is_refused(
    patient: dict[str, str], message: str
) -> None:
    errors = errors_of(example("admission", patient=patient))

    assert len(errors) == 1
    assert message in errors[0]["msg"]


@pytest.mark.parametrize("event_type", [t for t in SPEC_EVENT_TYPES if t != "capacity"])
def test_patient_events_need_a_patient_and_an_episode(event_type: str) -> None:
    document = without(example(event_type), "patient", "episode_id")

    assert failing_fields(document) == {"patient", "episode_id"}


@pytest.mark.parametrize("source", ["RR8", "RR8/", "/pas", "RR8 pas", "R/pas", "RR8/pas/extra"])
def test_source_must_be_organisation_slash_system(source: str) -> None:
    assert failing_fields(example("admission", source=source)) == {"source"}


@pytest.mark.parametrize("schema_version", ["2", 1, "1.0"])
def test_only_schema_version_1_is_understood(schema_version: object) -> None:
    assert failing_fields(example("admission", schema_version=schema_version)) == {"schema_version"}


@pytest.mark.parametrize("event_id", ["", "x" * 129])
def test_event_id_is_1_to_128_characters(event_id: str) -> None:
    assert failing_fields(example("admission", event_id=event_id)) == {"event_id"}


@pytest.mark.parametrize(
    ("event_type", "field", "value"),
    [
        ("referral", "status", "pending"),
        ("referral", "pathway", "P4"),
        ("admission", "admission_method", "ambulance"),
        ("attendance", "outcome", "died"),
        ("assessment", "delay_reason", "awaiting_godot"),
        ("discharge", "destination", "home"),
        ("capacity", "unit", "rooms"),
        ("capacity", "open", -1),
        ("discharge", "care_hours_per_week", -2.5),
        ("transfer", "to_service", "LCH Community Beds"),
    ],
)
def test_values_outside_the_code_lists_are_refused(event_type: str, field: str, value: Any) -> None:
    assert failing_fields(example(event_type, **{field: value})) == {field}


# SPEC section 8, copied from the spec so a code list edited by mistake shows up here.
SPEC_PATHWAYS = ["P0", "P1", "P2", "P3"]
SPEC_DELAY_REASONS = [
    "awaiting_medical_decision",
    "awaiting_equipment",
    "awaiting_community_hub",
    "awaiting_diagnostic",
    "awaiting_medicines_tto",
    "awaiting_referral_to_spa",
    "awaiting_therapy_decision",
    "awaiting_transport",
    "remeets_criteria",
    "homeless_no_place",
    "patient_family_disagreement",
    "no_plan",
    "p1_awaiting_resource",
    "p2_awaiting_bed",
    "p3_awaiting_care_home",
    "infection_control",
    "awaiting_repatriation",
    "safeguarding_court_of_protection",
    "awaiting_chc_assessment",
    "awaiting_readmission_decision",
]
SPEC_DESTINATIONS = [
    "usual_residence",
    "usual_residence_with_support",
    "short_term_bed",
    "care_home_residential",
    "care_home_nursing",
    "other_hospital",
    "hospice",
    "died",
    "other",
]


@pytest.mark.parametrize("reason", SPEC_DELAY_REASONS)
def test_every_spec_delay_reason_is_accepted(reason: str) -> None:
    assert parse(example("assessment", delay_reason=reason)).delay_reason == reason  # type: ignore[attr-defined]


@pytest.mark.parametrize("destination", SPEC_DESTINATIONS)
def test_every_spec_discharge_destination_is_accepted(destination: str) -> None:
    event = parse(example("discharge", destination=destination))
    assert event.destination == destination  # type: ignore[attr-defined]


@pytest.mark.parametrize("pathway", SPEC_PATHWAYS)
@pytest.mark.parametrize("event_type", ["referral", "assessment", "discharge"])
def test_every_spec_pathway_is_accepted(event_type: str, pathway: str) -> None:
    assert parse(example(event_type, pathway=pathway)).pathway == pathway  # type: ignore[attr-defined]


@pytest.mark.parametrize("status", ["new", "accepted", "declined", "withdrawn"])
def test_every_spec_referral_status_is_accepted(status: str) -> None:
    assert parse(example("referral", status=status)).status == status  # type: ignore[attr-defined]


# -- what a sender's system may get wrong in text, flags and hours ------------------------------

#: Every one-line text field, with an event type that carries it.
ONE_LINE_FIELDS = [
    ("admission", "event_id"),
    ("admission", "correlation_id"),
    ("admission", "episode_id"),
    ("admission", "unit"),
    ("admission", "patient.local_id"),
    ("admission", "patient.id_system"),
    ("transfer", "to_unit"),
    ("referral", "priority"),
    ("cancellation", "cancels_event_id"),
]


def with_text(event_type: str, field: str, value: str) -> dict[str, Any]:
    """The example of `event_type` with `field` (dotted for the patient's) set to `value`."""
    if field.startswith("patient."):
        patient = {"local_id": "MRN0012345", "id_system": "RR8/pas"}
        return example(event_type, patient=patient | {field.removeprefix("patient."): value})
    return example(event_type, **{field: value})


@pytest.mark.parametrize(("event_type", "field"), ONE_LINE_FIELDS)
@pytest.mark.parametrize(
    "control",
    [
        *["\x00", "\x01", "\t", "\n", "\r", "\x1b", "\x1f", "\x7f", "\x80", "\x92", "\x9f"],
        # direction overrides and isolates: they turn the page's own words around them backwards
        *["\u202a", "\u202e", "\u2066", "\u2069"],
    ],
)
def test_a_control_character_inside_a_one_line_field_is_refused_naming_it(
    event_type: str, field: str, control: str
) -> None:
    # PostgreSQL's text cannot hold NUL: the read model refused every row of such a patient.
    document = with_text(event_type, field, f"SPELL{control}55123")

    (error,) = errors_of(document)
    assert failing_fields(document) == {field}
    assert f"control character U+{ord(control):04X} at character 6" in error["msg"]


@pytest.mark.parametrize(("event_type", "field"), ONE_LINE_FIELDS)
def test_white_space_around_a_one_line_field_is_still_trimmed(event_type: str, field: str) -> None:
    event = parse(with_text(event_type, field, "\t SPELL-55123\r\n"))

    owner = event.patient if field.startswith("patient.") else event  # type: ignore[attr-defined]
    assert getattr(owner, field.removeprefix("patient.")) == "SPELL-55123"


@pytest.mark.parametrize("event_type", ["referral", "assessment"])
def test_a_next_step_may_break_lines_and_hold_tabs(event_type: str) -> None:
    words = "Call daughter re keys\r\n- then book\ttransport"

    assert parse(example(event_type, next_step=words)).next_step == words  # type: ignore[attr-defined]


@pytest.mark.parametrize("event_type", ["referral", "assessment"])
@pytest.mark.parametrize(
    "control", ["\x00", "\x08", "\x0b", "\x0c", "\x1b", "\x7f", "\x92", "\x9f", "\u202e", "\u2067"]
)
def test_a_next_step_holding_another_control_character_is_refused(
    event_type: str, control: str
) -> None:
    document = example(event_type, next_step=f"Call{control} daughter")

    (error,) = errors_of(document)
    assert failing_fields(document) == {"next_step"}
    assert f"control character U+{ord(control):04X} at character 5" in error["msg"]


FLAGS = [("assessment", "meets_criteria_to_reside"), ("discharge", "independent")]


@pytest.mark.parametrize(("event_type", "field"), FLAGS)
@pytest.mark.parametrize("value", ["no", "off", "f", "0", "false", "yes", "true", 0, 1, 0.0])
def test_a_flag_is_a_json_boolean_not_a_word_or_a_number(
    event_type: str, field: str, value: object
) -> None:
    # "no" and 0 were read as false, 1 as true: a sender's mistake changed the patient's state.
    assert failing_fields(example(event_type, **{field: value})) == {field}


@pytest.mark.parametrize(("event_type", "field"), FLAGS)
@pytest.mark.parametrize("value", [True, False])
def test_a_flag_given_as_true_or_false_is_kept(event_type: str, field: str, value: bool) -> None:
    assert getattr(parse(example(event_type, **{field: value})), field) is value


HOURS = [
    ("admission", "care_hours_per_week"),
    ("discharge", "care_hours_per_week"),
    ("assessment", "care_need_hours"),
]


@pytest.mark.parametrize(("event_type", "field"), HOURS)
@pytest.mark.parametrize("value", ["12", "10.5", True, False])
def test_hours_are_a_json_number_not_a_string_or_a_boolean(
    event_type: str, field: str, value: object
) -> None:
    # `true` was read as 1 hour a week, "12" as 12: a sender's mistake became a care package.
    assert failing_fields(example(event_type, **{field: value})) == {field}


@pytest.mark.parametrize(("event_type", "field"), HOURS)
@pytest.mark.parametrize(("value", "hours"), [(12, 12.0), (10.5, 10.5), (0, 0.0)])
def test_hours_may_be_whole_or_fractional(
    event_type: str, field: str, value: float, hours: float
) -> None:
    read = getattr(parse(example(event_type, **{field: value})), field)

    assert (read, type(read)) == (hours, float)
