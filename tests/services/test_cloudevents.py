"""CloudEvents 1.0 Kafka binary mode: the envelope in ce_* headers, the rest in the body."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from flowsight.adapters.catalogue import load_catalogue
from flowsight.services.validation import (
    INVALID_FIELD,
    UNSUPPORTED_SCHEMA_VERSION,
    Accepted,
    Rejected,
    ValidationContext,
    validate_event,
)
from flowsight.settings import DEFAULT_CATALOGUE

CONTEXT = ValidationContext(
    load_catalogue(DEFAULT_CATALOGUE), b"cloudevents-test-key-0123456789abcd", timedelta(minutes=5)
)
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
BODY = {
    "service": "lth-wards",
    "patient": {"nhs_number": "9434765919"},
    "episode_id": "SPELL-9",
    "admission_method": "emergency",
}
HEADERS = {
    "ce_specversion": b"1.0",
    "ce_id": b"adm-77",
    "ce_source": b"RR8/pas",
    "ce_type": b"org.flowsight.admission.v1",
    "ce_time": b"2026-11-23T09:15:00+00:00",
}


def check(body: dict[str, object], headers: dict[str, bytes]) -> Accepted | Rejected:
    return validate_event(
        json.dumps(body).encode(), organisation="RR8", context=CONTEXT, now=NOW, headers=headers
    )


def test_the_envelope_can_travel_in_cloudevents_headers() -> None:
    outcome = check(BODY, HEADERS)
    assert isinstance(outcome, Accepted), outcome
    event = outcome.event
    assert (event["event_id"], event["source"], event["event_type"]) == (
        "adm-77",
        "RR8/pas",
        "admission",
    )
    assert event["occurred_at"] == "2026-11-23T09:15:00.000000Z"


def test_the_plain_type_name_is_accepted_as_ce_type() -> None:
    assert isinstance(check(BODY, {**HEADERS, "ce_type": b"admission"}), Accepted)


def test_a_header_that_contradicts_the_body_is_refused_naming_the_field() -> None:
    outcome = check({**BODY, "event_id": "adm-78"}, HEADERS)
    assert isinstance(outcome, Rejected)
    assert (outcome.reason, outcome.field) == (INVALID_FIELD, "event_id")


def test_another_cloudevents_version_is_refused() -> None:
    outcome = check(BODY, {**HEADERS, "ce_specversion": b"0.3"})
    assert isinstance(outcome, Rejected)
    assert (outcome.reason, outcome.field) == (UNSUPPORTED_SCHEMA_VERSION, "ce_specversion")


def test_the_source_in_the_header_must_still_be_the_topics_organisation() -> None:
    outcome = check(BODY, {**HEADERS, "ce_source": b"RY6/systmone"})
    assert isinstance(outcome, Rejected)
    assert outcome.field == "source"


def test_without_cloudevents_headers_the_body_is_the_whole_event() -> None:
    outcome = check(BODY, {"traceparent": b"00-abc"})
    assert isinstance(outcome, Rejected)
    assert (outcome.reason, outcome.field) == ("missing_field", "event_type")


def structured(**attributes: object) -> bytes:
    """A structured-mode CloudEvent (the attributes beside `data` in the body), as the
    CloudEvents SDKs write one for Kafka by default."""
    event = {
        "specversion": "1.0",
        "id": "adm-77",
        "source": "RR8/pas",
        "type": "org.flowsight.admission.v1",
        "time": "2026-11-23T09:15:00+00:00",
        "datacontenttype": "application/json",
        "data": BODY,
    }
    return json.dumps({**event, **attributes}).encode()


def test_a_structured_mode_event_is_the_binary_mode_one() -> None:
    # It was refused for its unknown fields (`specversion`, `data`, ...).
    outcome = validate_event(structured(), organisation="RR8", context=CONTEXT, now=NOW)

    assert isinstance(outcome, Accepted), outcome
    assert outcome.event == check(BODY, HEADERS).event  # type: ignore[union-attr]


def test_a_structured_mode_attribute_that_contradicts_its_data_is_refused_naming_it() -> None:
    raw = structured(data={**BODY, "event_id": "adm-78"})

    outcome = validate_event(raw, organisation="RR8", context=CONTEXT, now=NOW)

    assert isinstance(outcome, Rejected)
    assert (outcome.reason, outcome.field) == (INVALID_FIELD, "event_id")


def test_a_structured_mode_event_of_another_cloudevents_version_is_refused() -> None:
    outcome = validate_event(
        structured(specversion="0.3"), organisation="RR8", context=CONTEXT, now=NOW
    )

    assert isinstance(outcome, Rejected)
    assert outcome.reason == UNSUPPORTED_SCHEMA_VERSION
