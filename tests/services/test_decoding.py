"""An event's bytes read as JSON, as publishers' clients write them. Confluent's JSON Schema
serializer's frame (a zero byte and the schema id before the JSON) is read as the bare JSON
would be; an Avro payload in the frame is refused saying what it is (both were 'not valid
JSON'). A key written twice is refused as the gateways refuse it (orjson kept its last value)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from flowsight.adapters.catalogue import load_catalogue
from flowsight.services.validation import (
    MALFORMED_JSON,
    Accepted,
    Rejected,
    ValidationContext,
    validate_event,
)
from flowsight.settings import DEFAULT_CATALOGUE

CONTEXT = ValidationContext(
    load_catalogue(DEFAULT_CATALOGUE), b"decoding-test-key-0123456789abcdef", timedelta(minutes=5)
)
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
ADMISSION = {
    "event_id": "adm-framed-1",
    "schema_version": "1",
    "event_type": "admission",
    "source": "RR8/pas",
    "occurred_at": "2026-11-23T09:15:00+00:00",
    "service": "lth-wards",
    "patient": {"nhs_number": "9434765919"},
    "episode_id": "SPELL-9",
    "admission_method": "emergency",
}
#: What Confluent's JSON Schema serializer writes before the JSON: magic byte 0, schema id 1007.
FRAME = b"\x00" + (1007).to_bytes(4, "big")


def check(raw: bytes) -> Accepted | Rejected:
    return validate_event(raw, organisation="RR8", context=CONTEXT, now=NOW)


def test_json_in_a_schema_registry_frame_is_the_event_sent_bare() -> None:
    bare = json.dumps(ADMISSION).encode()

    framed, plain = check(FRAME + bare), check(bare)

    assert isinstance(framed, Accepted), framed
    assert isinstance(plain, Accepted), plain
    assert framed.event == plain.event


def test_a_framed_event_is_checked_against_the_contract_as_any_other() -> None:
    outcome = check(FRAME + json.dumps({**ADMISSION, "service": "no-such-ward"}).encode())

    assert isinstance(outcome, Rejected)
    assert outcome.reason == "unknown_service"


def test_an_avro_payload_in_the_frame_is_refused_naming_the_frame_and_its_schema() -> None:
    # Avro's binary encoding of a record: a string's zig-zag length, then its bytes.
    avro = FRAME + b"\x18adm-framed-1\x02\x31"

    outcome = check(avro)

    assert isinstance(outcome, Rejected)
    assert outcome.reason == MALFORMED_JSON
    assert "Confluent Schema Registry frame (schema id 1007)" in outcome.message
    assert "JSON Schema serializer" in outcome.message


def test_bytes_that_only_start_with_a_zero_byte_are_still_not_json() -> None:
    outcome = check(b"\x00\x00")

    assert isinstance(outcome, Rejected)
    assert (outcome.reason, outcome.message.startswith("not valid JSON")) == (MALFORMED_JSON, True)


def test_a_utf8_byte_order_mark_before_the_json_is_ignored() -> None:
    # A file saved by Notepad or written by .NET's StreamWriter starts with one; RFC 8259 lets a
    # reader ignore it (orjson refuses it; the standard library's reader, read next, does not).
    outcome = check(b"\xef\xbb\xbf" + json.dumps(ADMISSION).encode())

    assert isinstance(outcome, Accepted), outcome
    assert outcome.event == check(json.dumps(ADMISSION).encode()).event  # type: ignore[union-attr]


def test_a_key_written_twice_is_refused_naming_it_as_the_gateways_refuse_it() -> None:
    # orjson kept the last value: `"open": 0 ... "open": 12` published 12 for a sender who
    # wrote 0, where the HTTP and FHIR gateways refuse the body.
    twice = json.dumps(ADMISSION)[:-1] + ', "service": "lth-ed"}'

    outcome = check(twice.encode())

    assert isinstance(outcome, Rejected)
    assert outcome.reason == MALFORMED_JSON
    assert outcome.message == "the key 'service' appears twice in one object"


def test_a_quote_and_colon_inside_a_value_is_no_second_key() -> None:
    # `\\":` in a value ends no name: counted as one, it only costs a second, strict read.
    event = {k: v for k, v in ADMISSION.items() if k != "admission_method"} | {
        "event_type": "referral",
        "to_service": "lcc-reablement",
        "status": "new",
        "next_step": 'Family said "key safe": code by phone',
    }

    assert isinstance(check(json.dumps(event).encode()), Accepted)


def test_the_payload_of_a_kafka_connect_envelope_is_the_event() -> None:
    # Kafka Connect's JsonConverter with its default `schemas.enable=true` (a JDBC source, an
    # outbox router): it was refused for the fields `schema` and `payload`.
    envelope = {
        "schema": {"type": "struct", "optional": False, "fields": []},
        "payload": ADMISSION,
    }

    outcome = check(json.dumps(envelope).encode())

    assert isinstance(outcome, Accepted), outcome
    assert outcome.event == check(json.dumps(ADMISSION).encode()).event  # type: ignore[union-attr]


def test_an_envelope_with_anything_beside_schema_and_payload_is_read_as_sent() -> None:
    outcome = check(json.dumps({"schema": {}, "payload": ADMISSION, "extra": 1}).encode())

    assert isinstance(outcome, Rejected)
