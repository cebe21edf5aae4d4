"""validate_event: a raw published event becomes a pseudonymised, normalised event or a reason."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from flowsight.adapters.catalogue import load_catalogue
from flowsight.adapters.kafka.producer import usable_correlation_id
from flowsight.services import validation
from flowsight.services.validation import Accepted, Rejected, ValidationContext, validate_event
from flowsight.settings import DEFAULT_CATALOGUE
from tests.schemas.examples import (
    NHS_NUMBER_DIGITS,
    PUBLISHER,
    SPEC_EVENT_TYPES,
    example,
    without,
)

NOW = datetime(2025, 3, 16, 12, 0, tzinfo=UTC)
KEY = b"test-pseudonym-key-0123456789abcdef"
OTHER_KEY = b"another-pseudonym-key-0123456789ab"
FIXED_WIDTH_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
HEX_64 = re.compile(r"^[0-9a-f]{64}$")
TIMESTAMP_FIELDS = ("occurred_at", "arrived_at", "departed_at", "discharge_ready_at")


@pytest.fixture(scope="module")
def context() -> ValidationContext:
    return ValidationContext(
        catalogue=load_catalogue(DEFAULT_CATALOGUE),
        pseudonym_key=KEY,
        clock_skew=timedelta(minutes=5),
    )


def check(
    document: Any,
    context: ValidationContext,
    *,
    organisation: str | None = None,
    key: bytes | None = None,
) -> Accepted | Rejected:
    if key is not None:
        context = ValidationContext(context.catalogue, key, context.clock_skew)
    if organisation is None:
        organisation = document["source"].split("/")[0]
    raw = json.dumps(document).encode()
    return validate_event(raw, organisation=organisation, context=context, now=NOW)


def accepted(document: dict[str, Any], context: ValidationContext, **options: Any) -> Accepted:
    outcome = check(document, context, **options)
    assert isinstance(outcome, Accepted), outcome
    return outcome


def pseudonym_of(patient: dict[str, str], context: ValidationContext, **options: Any) -> str:
    return str(
        accepted(example("admission", patient=patient), context, **options).event["pseudonym"]
    )


# -- every reason code, with the field it names -------------------------------------------------

REJECTIONS: list[tuple[str, Any, str, str]] = [
    # (what, document or raw bytes, reason, field)
    ("truncated JSON", b'{"event_id": "pas-adm-991", ', validation.MALFORMED_JSON, ""),
    ("not UTF-8", b'{"event_id": "\xff\xfe"}', validation.MALFORMED_JSON, ""),
    ("empty body", b"", validation.MALFORMED_JSON, ""),
    # Half a UTF-16 pair: no character, and no encoder takes it (the events topic's neither).
    ("a lone surrogate", b'{"event_id": "pas-\\udfff"}', validation.MALFORMED_JSON, ""),
    ("a JSON array", [example("admission")], validation.NOT_AN_OBJECT, ""),
    ("a JSON string", "admission", validation.NOT_AN_OBJECT, ""),
    ("JSON null", None, validation.NOT_AN_OBJECT, ""),
    (
        "no event_type",
        without(example("admission"), "event_type"),
        validation.MISSING_FIELD,
        "event_type",
    ),
    (
        "no admission_method",
        without(example("admission"), "admission_method"),
        validation.MISSING_FIELD,
        "admission_method",
    ),
    ("no patient", without(example("discharge"), "patient"), validation.MISSING_FIELD, "patient"),
    (
        "no occurred_at",
        without(example("capacity"), "occurred_at"),
        validation.MISSING_FIELD,
        "occurred_at",
    ),
    (
        "unknown admission method",
        example("admission", admission_method="ambulance"),
        validation.INVALID_FIELD,
        "admission_method",
    ),
    (
        "an extra field",
        example("admission", ward_name="J24"),
        validation.INVALID_FIELD,
        "ward_name",
    ),
    (
        "a naive timestamp",
        example("admission", occurred_at="2025-03-10T09:40:00"),
        validation.INVALID_FIELD,
        "occurred_at",
    ),
    (
        "local_id without id_system",
        example("admission", patient={"local_id": "MRN0012345"}),
        validation.INVALID_FIELD,
        "patient",
    ),
    (
        "a transfer whose from_service is not its service",
        example("transfer", from_service="lth-ed"),
        validation.INVALID_FIELD,
        "from_service",
    ),
    (
        "a NUL in a next step (PostgreSQL refused the patient's every row)",
        example("referral", next_step="Call\u0000 daughter"),
        validation.INVALID_FIELD,
        "next_step",
    ),
    (
        "an escape character in a local identifier",
        example("admission", patient={"local_id": "MRN\u001b001", "id_system": "RR8/pas"}),
        validation.INVALID_FIELD,
        "patient.local_id",
    ),
    (
        '"no" for whether the criteria to reside are met',
        example("assessment", meets_criteria_to_reside="no"),
        validation.INVALID_FIELD,
        "meets_criteria_to_reside",
    ),
    (
        "0 for discharged independent",
        example("discharge", independent=0),
        validation.INVALID_FIELD,
        "independent",
    ),
    (
        "true for hours of care a week",
        example("discharge", care_hours_per_week=True),
        validation.INVALID_FIELD,
        "care_hours_per_week",
    ),
    (
        '"12" for hours of care needed',
        example("assessment", care_need_hours="12"),
        validation.INVALID_FIELD,
        "care_need_hours",
    ),
    (
        "an event type the contract lacks",
        example("admission", event_type="death"),
        validation.UNKNOWN_EVENT_TYPE,
        "event_type",
    ),
    (
        "schema version 2",
        example("admission", schema_version="2"),
        validation.UNSUPPORTED_SCHEMA_VERSION,
        "schema_version",
    ),
    (
        "wrong check digit",
        example("admission", patient={"nhs_number": "943 476 5918"}),
        validation.INVALID_NHS_NUMBER,
        "patient.nhs_number",
    ),
    (
        "placeholder NHS number",
        example("admission", patient={"nhs_number": "1111111111"}),
        validation.INVALID_NHS_NUMBER,
        "patient.nhs_number",
    ),
    (
        "nine-digit NHS number",
        example("admission", patient={"nhs_number": "943476591"}),
        validation.INVALID_NHS_NUMBER,
        "patient.nhs_number",
    ),
    (
        "a service not in the catalogue",
        example("admission", service="lth-theatres"),
        validation.UNKNOWN_SERVICE,
        "service",
    ),
    (
        "a referral to a service not in the catalogue",
        example("referral", to_service="lcc-day-centres"),
        validation.UNKNOWN_SERVICE,
        "to_service",
    ),
    (
        "a transfer to a service not in the catalogue",
        example("transfer", to_service="bradford-beds"),
        validation.UNKNOWN_SERVICE,
        "to_service",
    ),
    (  # no service id has its shape: none is in the catalogue (it was invalid_field, a pattern)
        "a service named as a ward is, in capitals",
        example("admission", service="LTH-WARDS"),
        validation.UNKNOWN_SERVICE,
        "service",
    ),
    (
        "a transfer from a site code",
        example("transfer", from_service="RCB55"),
        validation.UNKNOWN_SERVICE,
        "from_service",
    ),
    (
        "another organisation's source",
        example("admission", source="RY6/systmone"),
        validation.SOURCE_MISMATCH,
        "source",
    ),
    (
        "another organisation's service",
        example("admission", service="lch-ucr"),
        validation.SERVICE_NOT_OWNED,
        "service",
    ),
    (
        "capacity for another organisation's service",
        example("capacity", source="RR8/bedview", service="lch-ucr"),
        validation.SERVICE_NOT_OWNED,
        "service",
    ),
    (
        "six minutes in the future",
        example("admission", occurred_at="2025-03-16T12:06:00Z"),
        validation.IN_THE_FUTURE,
        "occurred_at",
    ),
    (
        "in the future once its offset is applied",
        example("admission", occurred_at="2025-03-16T08:00:00-05:00"),
        validation.IN_THE_FUTURE,
        "occurred_at",
    ),
]


@pytest.mark.parametrize(
    ("document", "reason", "field"),
    [
        pytest.param(document, reason, field, id=what)
        for what, document, reason, field in REJECTIONS
    ],
)
def test_each_problem_is_refused_with_its_reason_and_field(
    document: Any, reason: str, field: str, context: ValidationContext
) -> None:
    raw = document if isinstance(document, bytes) else json.dumps(document).encode()
    # The topic or credential belongs to RR8, as the example documents' sources do (but not all).
    outcome = validate_event(raw, organisation="RR8", context=context, now=NOW)

    assert isinstance(outcome, Rejected)
    assert (outcome.reason, outcome.field) == (reason, field)
    assert outcome.message


def test_every_reason_code_is_exercised() -> None:
    # too_late and event_id_reused are decided by the journey, and unprocessable by the stream
    # when code fails.
    not_the_validators = {
        validation.TOO_LATE,
        validation.EVENT_ID_REUSED,
        validation.UNPROCESSABLE,
    }
    codes = validation.REASONS - not_the_validators
    assert codes == {reason for _, _, reason, _ in REJECTIONS}


def test_a_source_claiming_another_organisation_is_refused_before_anything_else(
    context: ValidationContext,
) -> None:
    # An RY6 system publishing on RR8's topic is refused even for an event RY6 could publish.
    outcome = check(example("capacity"), context, organisation="RR8")

    assert isinstance(outcome, Rejected)
    assert (outcome.reason, outcome.field) == (validation.SOURCE_MISMATCH, "source")
    assert "RY6/systmone" in outcome.message


@pytest.mark.parametrize(
    ("document", "named"),
    [
        (example("attendance", departed_at="2025-03-10T05:01:00Z"), "departed_at"),
        (without(example("assessment"), "meets_criteria_to_reside"), "meets_criteria_to_reside"),
    ],
)
def test_rules_across_fields_are_refused_with_a_message_naming_them(
    document: dict[str, Any], named: str, context: ValidationContext
) -> None:
    outcome = check(document, context)

    assert isinstance(outcome, Rejected)
    assert outcome.reason == validation.INVALID_FIELD
    assert named in outcome.message


def test_messages_name_the_offending_value(context: ValidationContext) -> None:
    unknown = check(example("admission", service="lth-theatres"), context)
    not_owned = check(example("admission", service="lch-ucr"), context)
    missing = check(without(example("admission"), "admission_method"), context)

    assert isinstance(unknown, Rejected) and "lth-theatres" in unknown.message
    assert isinstance(not_owned, Rejected) and "RY6" in not_owned.message
    assert isinstance(missing, Rejected) and "admission_method" in missing.message


def test_a_control_character_is_named_by_its_code_point_and_place_not_quoted(
    context: ValidationContext,
) -> None:
    outcome = check(example("referral", next_step="Call\u0000 daughter re keys"), context)

    assert isinstance(outcome, Rejected)
    assert outcome.message == (
        "next_step: holds control character U+0000 at character 5: free text takes tabs and "
        "line breaks, no other"
    )


@pytest.mark.parametrize("invisible", ["\u200b", "\u2060", "\ufeff"], ids=["zwsp", "wj", "bom"])
def test_a_unit_with_a_character_that_prints_as_nothing_is_refused_naming_it(
    invisible: str, context: ValidationContext
) -> None:
    # "WARD7" and "WARD<U+200B>7" look the same on the page and are two units.
    outcome = check(example("admission", unit=f"WARD{invisible}7"), context)

    assert isinstance(outcome, Rejected)
    assert outcome.message.startswith(
        f"unit: holds invisible character U+{ord(invisible):04X} at character 5"
    )
    # Free text keeps them: joiners shape some scripts' words.
    assert isinstance(
        check(example("referral", next_step=f"Call{invisible} son"), context), Accepted
    )


@pytest.mark.parametrize("number", ["Infinity", "-Infinity", "NaN"])
def test_hours_that_are_no_json_number_are_refused(number: str, context: ValidationContext) -> None:
    # Only the standard library's lenient reading takes Infinity: it travelled on as null.
    document = example("admission", care_hours_per_week="NUMBER")
    raw = json.dumps(document).replace('"NUMBER"', number).encode()

    outcome = validate_event(raw, organisation="RR8", context=context, now=NOW)

    assert isinstance(outcome, Rejected)
    assert (outcome.reason, outcome.field) == (validation.INVALID_FIELD, "care_hours_per_week")


def test_clock_skew_of_up_to_five_minutes_is_tolerated(context: ValidationContext) -> None:
    accepted(example("admission", occurred_at="2025-03-16T12:04:59Z"), context)
    accepted(example("admission", occurred_at="2025-03-16T12:05:00Z"), context)


# -- what an accepted event looks like ----------------------------------------------------------


@pytest.mark.parametrize("event_type", SPEC_EVENT_TYPES)
def test_every_example_event_is_accepted(event_type: str, context: ValidationContext) -> None:
    outcome = accepted(example(event_type), context, organisation=PUBLISHER[event_type])

    assert outcome.event["event_type"] == event_type
    assert outcome.event["event_id"] == example(event_type)["event_id"]


@pytest.mark.parametrize("event_type", [t for t in SPEC_EVENT_TYPES if t != "capacity"])
def test_accepted_patient_events_carry_a_pseudonym_and_no_nhs_number(
    event_type: str, context: ValidationContext
) -> None:
    outcome = accepted(example(event_type), context)
    text = json.dumps(outcome.event)

    assert "patient" not in outcome.event
    assert NHS_NUMBER_DIGITS not in text
    assert "943 476 5919" not in text
    assert HEX_64.match(outcome.event["pseudonym"])
    assert outcome.key == outcome.event["pseudonym"]


def test_an_nhs_number_in_an_events_ids_leaves_as_a_token_the_cancellation_still_names(
    context: ValidationContext,
) -> None:
    # A care home's system without episodes keys them by the resident's NHS number; the
    # number travelled raw on the events topic, into the tables and the read model.
    admission = example("admission", event_id=f"adm-{NHS_NUMBER_DIGITS}", episode_id="943-476-5919")
    cancellation = example(
        "cancellation",
        event_id=f"{NHS_NUMBER_DIGITS}:cancel",
        cancels_event_id=f"adm-{NHS_NUMBER_DIGITS}",
    )

    admitted = accepted(admission, context).event
    cancelled = accepted(cancellation, context).event

    for event in (admitted, cancelled):
        text = json.dumps(event)
        assert NHS_NUMBER_DIGITS not in text and "943-476-5919" not in text
    assert cancelled["cancels_event_id"] == admitted["event_id"]
    assert admitted["event_id"].startswith("adm-n") and len(admitted["event_id"]) == 14
    assert len(admitted["episode_id"]) == len("943-476-5919")
    assert accepted(admission, context).event["event_id"] == admitted["event_id"]
    assert accepted(admission, context, key=OTHER_KEY).event["event_id"] != admitted["event_id"]


@pytest.mark.parametrize(
    ("kind", "field"),
    [
        ("referral", "next_step"),
        ("referral", "priority"),
        ("assessment", "next_step"),
        ("admission", "unit"),
        ("transfer", "to_unit"),
        ("admission", "correlation_id"),
    ],
)
@pytest.mark.parametrize(
    "written",
    [
        "943 476 5919",
        "943-476-5919",
        NHS_NUMBER_DIGITS,
        "\uff19\uff14\uff13\uff14\uff17\uff16\uff15\uff19\uff11\uff19",  # full-width
        # Written as people paste and type them: each reached the caseload as written.
        "943\u00a0476\u00a05919",  # non-breaking spaces, from a letter
        "943\u2013476\u20135919",  # en dashes, a word processor's
        "943_476_5919",
        "943/476/5919",
        "(943) 476-5919",
        "9434 765 919",
        "94347 65919",
        "9 4 3 4 7 6 5 9 1 9",
        "0099 943 476 5919",  # after another number: 0099943476 passes the check too
    ],
    ids=[
        # (a direction override inside is refused with the text: tests/schemas/test_events.py)
        *("spaced", "hyphens", "together", "full-width"),
        *("nbsp", "en-dash", "underscores", "slashes", "brackets", "4-3-3", "5-5", "one-by-one"),
        "overlapping",
    ],
)
def test_an_nhs_number_a_team_writes_in_any_text_leaves_as_a_token(
    kind: str, field: str, written: str, context: ValidationContext
) -> None:
    # A next step ("call 943 476 5919's family"), a unit or a priority reached the events topic,
    # the read model and the caseload as written: only ids were tokenised.
    event = accepted(example(kind, **{field: f"call {written} family"}), context).event

    said = event[field]
    digits = re.sub(r"\D", "", said)
    assert said.startswith(("call n", "call (n")) and said.endswith(" family"), said
    assert NHS_NUMBER_DIGITS not in digits
    assert (
        accepted(example(kind, **{field: f"call {written} family"}), context).event[field] == said
    )


def test_an_nhs_number_with_a_zero_width_space_is_a_token_in_free_text_and_refused_in_a_unit(
    context: ValidationContext,
) -> None:
    written = "call 9\u200b434765919 family"  # seen as 9434765919
    note = accepted(example("referral", next_step=written), context).event["next_step"]
    unit = check(example("admission", unit=written), context)

    assert NHS_NUMBER_DIGITS not in re.sub(r"\D", "", note)
    # A unit takes nothing that prints as nothing; the refusal does not quote the number.
    assert isinstance(unit, Rejected) and "invisible character U+200B" in unit.message
    assert "434765919" not in unit.message


def test_text_around_a_ten_digit_run_that_is_no_nhs_number_is_left_as_written(
    context: ValidationContext,
) -> None:
    note = "Visit 9434765918 (ward \uff17), phone 0113 243 3144"
    event = accepted(example("referral", next_step=note), context).event

    assert event["next_step"] == note


def test_a_ten_digit_id_that_is_no_nhs_number_is_left_as_it_is(
    context: ValidationContext,
) -> None:
    visit = "9434765918"  # a visit number: its check digit is not an NHS number's

    event = accepted(example("admission", episode_id=visit, event_id=f"{visit}:1"), context).event

    assert (event["episode_id"], event["event_id"]) == (visit, f"{visit}:1")


def test_local_identifiers_do_not_travel_either(context: ValidationContext) -> None:
    patient = {"nhs_number": "4010232137", "local_id": "MRN0012345", "id_system": "RR8/pas"}
    text = json.dumps(accepted(example("admission", patient=patient), context).event)

    assert "MRN0012345" not in text
    assert "4010232137" not in text


def test_capacity_is_keyed_by_its_service_not_a_patient(context: ValidationContext) -> None:
    outcome = accepted(example("capacity"), context)

    assert "pseudonym" not in outcome.event
    assert "lch-community-beds" in outcome.key
    assert outcome.event["open"] == 172


@pytest.mark.parametrize("event_type", SPEC_EVENT_TYPES)
def test_every_timestamp_is_fixed_width_utc(event_type: str, context: ValidationContext) -> None:
    event = accepted(example(event_type), context, organisation=PUBLISHER[event_type]).event

    stamps = {name: event[name] for name in TIMESTAMP_FIELDS if name in event}
    assert "occurred_at" in stamps
    for name, value in stamps.items():
        assert FIXED_WIDTH_UTC.match(value), (name, value)


def test_an_offset_becomes_the_same_instant_in_utc(context: ValidationContext) -> None:
    document = example(
        "attendance",
        occurred_at="2025-03-16T00:30:00+01:00",
        arrived_at="2025-03-15T21:05:00+01:00",
        departed_at="2025-03-16T00:30:00.250+01:00",
    )
    event = accepted(document, context).event

    assert event["occurred_at"] == "2025-03-15T23:30:00.000000Z"
    assert event["arrived_at"] == "2025-03-15T20:05:00.000000Z"
    assert event["departed_at"] == "2025-03-15T23:30:00.250000Z"


def test_a_negative_offset_and_a_z_suffix_agree(context: ValidationContext) -> None:
    west = accepted(example("admission", occurred_at="2025-03-10T04:40:00-05:00"), context)
    utc = accepted(example("admission", occurred_at="2025-03-10T09:40:00Z"), context)

    assert west.event["occurred_at"] == utc.event["occurred_at"] == "2025-03-10T09:40:00.000000Z"


def test_discharge_ready_date_is_normalised_too(context: ValidationContext) -> None:
    document = example("assessment", discharge_ready_at="2025-03-11T08:00:00+01:00")

    assert accepted(document, context).event["discharge_ready_at"] == "2025-03-11T07:00:00.000000Z"


@pytest.mark.parametrize("typed", ["943 476 5919", "9434765919", "943-476-5919", " 9434765919 "])
def test_the_pseudonym_ignores_how_the_nhs_number_was_typed(
    typed: str, context: ValidationContext
) -> None:
    assert pseudonym_of({"nhs_number": typed}, context) == pseudonym_of(
        {"nhs_number": "9434765919"}, context
    )


def test_the_same_patient_from_two_organisations_has_one_pseudonym(
    context: ValidationContext,
) -> None:
    hospital = accepted(example("admission"), context)
    council = accepted(
        example(
            "admission",
            source="LCC/mosaic",
            service="lcc-reablement",
            admission_method="start_of_care",
            patient={"nhs_number": "943 476 5919", "local_id": "P-0099", "id_system": "LCC/mosaic"},
        ),
        context,
    )

    assert hospital.event["pseudonym"] == council.event["pseudonym"]


def test_different_patients_have_different_pseudonyms(context: ValidationContext) -> None:
    assert pseudonym_of({"nhs_number": "9434765919"}, context) != pseudonym_of(
        {"nhs_number": "4010232137"}, context
    )


def test_the_pseudonym_depends_on_the_key(context: ValidationContext) -> None:
    patient = {"nhs_number": "9434765919"}

    assert pseudonym_of(patient, context) != pseudonym_of(patient, context, key=OTHER_KEY)
    assert pseudonym_of(patient, context, key=OTHER_KEY) == pseudonym_of(
        patient, context, key=OTHER_KEY
    )


def test_local_id_pseudonyms_differ_by_id_system(context: ValidationContext) -> None:
    pas = pseudonym_of({"local_id": "100234", "id_system": "RR8/pas"}, context)
    ed = pseudonym_of({"local_id": "100234", "id_system": "RR8/symphony"}, context)
    again = pseudonym_of({"local_id": "100234", "id_system": "RR8/pas"}, context)

    assert pas != ed
    assert pas == again
    assert HEX_64.match(pas)


def test_a_local_id_never_collides_with_an_nhs_number(context: ValidationContext) -> None:
    by_nhs = pseudonym_of({"nhs_number": "9434765919"}, context)
    by_local = pseudonym_of({"local_id": "9434765919", "id_system": "nhs"}, context)

    assert by_nhs != by_local


# -- edges of the calendar: bad input must be refused or normalised, never raise ----------------


def test_a_year_before_1000_is_still_fixed_width(context: ValidationContext) -> None:
    # A mistyped year ("0999" for "1999") is in the past, so nothing refuses it; the journey then
    # compares timestamps as text, which only works when every one has a four-digit year.
    outcome = check(example("admission", occurred_at="0999-06-01T10:00:00Z"), context)

    if isinstance(outcome, Accepted):
        assert FIXED_WIDTH_UTC.match(outcome.event["occurred_at"]), outcome.event["occurred_at"]


def test_the_first_day_of_the_calendar_with_an_offset_is_refused_not_raised(
    context: ValidationContext,
) -> None:
    # 0001-01-01T00:30+01:00 is 31 December of year 0 in UTC, which Python cannot represent;
    # .NET systems send 0001-01-01 as their "no date" value.
    outcome = check(example("admission", occurred_at="0001-01-01T00:30:00+01:00"), context)

    assert isinstance(outcome, Rejected)


@pytest.mark.parametrize(
    ("document", "field"),
    [
        (example("attendance", departed_at="2025-03-10T05:01:00Z"), "departed_at"),
        (
            without(example("assessment", kind="ctr_review"), "meets_criteria_to_reside"),
            "meets_criteria_to_reside",
        ),
    ],
)
def test_rules_across_two_fields_name_the_field_to_fix(
    document: dict[str, Any], field: str, context: ValidationContext
) -> None:
    outcome = check(document, context)
    assert isinstance(outcome, Rejected), outcome
    assert (outcome.reason, outcome.field) == (validation.INVALID_FIELD, field)


@pytest.mark.parametrize(
    "number",
    [
        "-9223372036854775809",
        "-9223372036854775808",
        "9223372036854775808",
        "18446744073709551616",
        "123456789012345678901.5",
        "1e30",
        "-1E19",
        "12.5",
        "7",
    ],
)
@pytest.mark.parametrize(
    ("event_type", "field"),
    [("capacity", "open"), ("admission", "care_hours_per_week"), ("admission", "extra")],
)
def test_a_number_gets_the_answer_the_standard_library_reading_gives(
    number: str, event_type: str, field: str, context: ValidationContext
) -> None:
    document = {**example(event_type), field: "NUMBER"}
    raw = json.dumps(document).replace('"NUMBER"', number).encode()
    organisation = document["source"].split("/")[0]
    # A body the standard library cannot read as UTF-8 JSON is read by it alone: the reference.
    expected = validate_event(
        raw.decode().encode("utf-16"), organisation=organisation, context=context, now=NOW
    )
    assert validate_event(raw, organisation=organisation, context=context, now=NOW) == expected


@pytest.mark.parametrize(
    ("document", "field"),
    [
        # Year 1 cannot be read as a London day: it crashed the read model's writer.
        (example("admission", occurred_at="0001-01-01T00:00:00Z"), "occurred_at"),
        (example("attendance", arrived_at="1850-03-10T05:01:00Z"), "arrived_at"),
    ],
)
def test_a_moment_in_no_plausible_year_is_refused_naming_it(
    context: ValidationContext, document: dict[str, object], field: str
) -> None:
    outcome = check(document, context)

    assert isinstance(outcome, Rejected)
    assert (outcome.reason, outcome.field) == ("invalid_field", field)


@pytest.mark.parametrize("field", ["arrived_at", "departed_at"])
def test_an_arrival_or_departure_in_the_future_is_refused(
    context: ValidationContext, field: str
) -> None:
    # Departed in 2099: the patient would count in the department until then.
    arrival = without(example("attendance"), "departed_at")  # an arrival, still there
    outcome = check(arrival | {field: "2099-01-01T00:00:00Z"}, context)

    assert isinstance(outcome, Rejected)
    assert (outcome.reason, outcome.field) == ("in_the_future", field)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"open": 500, "total": 185}, "total"),  # 10^9 open beds masked a ward at OPEL 3
        ({"open": True}, "open"),  # read as 1 open bed: 140,000 % occupied
        ({"open": "12"}, "open"),
    ],
)
def test_capacity_that_cannot_be_is_refused_naming_its_field(
    context: ValidationContext, changes: dict[str, object], field: str
) -> None:
    outcome = check(example("capacity") | changes, context)

    assert isinstance(outcome, Rejected)
    assert (outcome.reason, outcome.field) == ("invalid_field", field)


def test_a_correlation_id_shaped_like_an_nhs_number_is_replaced() -> None:
    assert usable_correlation_id("9434765919") is None
    assert usable_correlation_id(b"943 476 5919") is None
    assert usable_correlation_id("pas-20261204-0001") == "pas-20261204-0001"
