"""What a sender is answered, and what is dead-lettered, for messages whose trigger or bytes
cannot be read as sent (each fails on the old code)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import hl7
import pytest
from prometheus_client import CollectorRegistry

from flowsight.adapters.catalogue import load_catalogue
from flowsight.adapters.hl7.check import Checker
from flowsight.adapters.hl7.handler import AdtHandler
from flowsight.adapters.hl7.metrics import ListenerMetrics
from flowsight.adapters.hl7.parse import parse_message
from flowsight.adapters.profile import MappingProfile, default_profile
from flowsight.services.validation import ValidationContext
from flowsight.settings import DEFAULT_CATALOGUE
from tests.adapters.hl7.listening import RecordingPublisher, settings
from tests.adapters.hl7.test_mapping import PID, pv1

CONTEXT = ValidationContext(load_catalogue(DEFAULT_CATALOGUE), b"k" * 32, timedelta(minutes=5))


def answered(
    raw: bytes, directory: Path, profile: MappingProfile | None = None
) -> tuple[Any, RecordingPublisher]:
    """The ACK a listener for RR8 sends for `raw` (parsed), and what it published."""
    publisher = RecordingPublisher(settings(directory))
    reply = asyncio.run(listener_for(publisher, profile).acknowledge(raw)).ack
    assert reply
    return hl7.parse(reply.decode()), publisher


def listener_for(
    publisher: RecordingPublisher, profile: MappingProfile | None = None
) -> AdtHandler:
    """The handler of a listener for RR8 (by default its wards' profile) writing to `publisher`."""
    return AdtHandler(
        publisher,
        CONTEXT,
        "RR8",
        profile or default_profile("RR8", "lth-wards"),
        ListenerMetrics(CollectorRegistry()),
        max_message_bytes=512 * 1024,
        publish_timeout=5.0,
        processing_ids=None,
        application="FLOWSIGHT",
    )


def test_a_message_whose_trigger_cannot_be_told_is_rejected_naming_msh9(tmp_path: Path) -> None:
    # MSH-9 `ADT` alone (MSH-9.2 is required from v2.3) and no EVN: which event is it?
    raw = "\r".join(
        [
            "MSH|^~\\&|PAS|RR8|FS|LEEDS|20250601101500||ADT|C1|P|2.4",
            PID,
            pv1(f3="WARD7", f4="E", f44="20250601090000"),
        ]
    ).encode()
    ack, publisher = answered(raw, tmp_path)
    assert str(ack.segment("MSA")(1)) == "AR"
    assert str(ack.segment("ERR")(2)) == "MSH^1^9^1^2"
    assert publisher.published == []
    ((dead, headers),) = publisher.dead
    assert dead == raw
    assert (headers["reason"], headers["field"]) == ("hl7_unsupported_trigger", "MSH-9.2")
    assert "MSH-9" in headers["message"]


def test_bytes_a_read_field_holds_outside_its_character_set_are_an_error_in_content(
    tmp_path: Path,
) -> None:
    # A Latin-1 É in PV1-3 of a message declaring UTF-8: the sender fixes the bytes and resends.
    raw = "\r".join(
        [
            "MSH|^~\\&|PAS|RR8|FS|LEEDS|20250601101500||ADT^A01|C3|P|2.4|||||GBR|UNICODE UTF-8",
            "EVN|A01|20250601101400",
            PID,
            pv1(f3="LGI^WARD \u00c9", f4="E", f44="20250601090000"),
        ]
    ).encode("latin-1")
    ack, publisher = answered(raw, tmp_path)
    assert str(ack.segment("MSA")(1)) == "AE"
    assert str(ack.segment("ERR")(2)) == "PV1^1^3^1"
    assert publisher.published == []
    ((dead, headers),) = publisher.dead
    assert dead == raw
    assert (headers["reason"], headers["field"]) == ("hl7_invalid_field", "PV1-3")
    assert headers["message"] == "PV1-3 holds bytes that are not UNICODE UTF-8 (MSH-18)"


def escaped_admission(charset: str, unit: str, visit: str = "V1") -> bytes:
    return "\r".join(
        [
            f"MSH|^~\\&|PAS|RR8|FS|LEEDS|20250601101500||ADT^A01|C4|P|2.5|||||GBR|{charset}",
            "EVN|A01|20250601101400",
            PID,
            pv1(f3=unit, f4="E", f19=visit, f44="20250601090000"),
        ]
    ).encode("latin-1")


@pytest.mark.parametrize(
    ("charset", "unit", "read"),
    [
        ("UNICODE UTF-8", "CAF\\XC3A9\\ WARD", "CAF\u00e9 WARD"),
        ("UTF-8", "\\XE2809C\\A\\XE2809D\\", "\u201cA\u201d"),
        ("8859/1", "CAF\\XE9\\ WARD", "CAF\u00e9 WARD"),
        ("WINDOWS-1252", "\\X80\\ WARD", "\u20ac WARD"),
        # Bytes UTF-8 cannot read: one character a byte, as a Latin-1 sender meant.
        ("UNICODE UTF-8", "CAF\\XE9\\ WARD", "CAF\u00e9 WARD"),
        # What the bytes read as that is a separator stays in the field.
        ("UNICODE UTF-8", "A\\XC3A97C5E\\B", "A\u00e9|^B"),
    ],
    ids=["utf-8", "utf-8 quotes", "latin-1", "windows-1252", "not utf-8", "separators"],
)
def test_a_hex_escape_is_read_as_bytes_in_the_declared_character_set(
    charset: str, unit: str, read: str
) -> None:
    checker = Checker("RR8", default_profile("RR8", "lth-wards"), CONTEXT, frozenset({"P"}))
    (outcome,) = checker.check_bytes(escaped_admission(charset, unit))
    assert (outcome.ack, outcome.refusal) == ("AA", None)
    assert [(e["event_type"], e["unit"]) for e in outcome.events] == [("admission", read)]


@pytest.mark.parametrize("visit", ["V\\X00\\1", "V\\XC3A90D\\1", "V\\XC285\\1", "V\\X0\\1"])
def test_a_control_character_a_hex_escape_decodes_to_is_still_refused_in_an_identifier(
    visit: str,
) -> None:
    checker = Checker("RR8", default_profile("RR8", "lth-wards"), CONTEXT, frozenset({"P"}))
    (outcome,) = checker.check_bytes(escaped_admission("UNICODE UTF-8", "WARD7", visit))
    assert (outcome.ack, outcome.events) == ("AE", [])
    assert outcome.refusal is not None
    assert (outcome.refusal.reason, outcome.refusal.field) == ("hl7_invalid_field", "PV1-19")


@pytest.mark.parametrize("unit", ["WARD\\.br\\7", "WARD\\X0A\\7", "WARD\\X00\\7", "WARD\\X1B\\7"])
def test_a_point_of_care_holding_a_line_break_or_control_character_is_refused_on_pv1_3(
    unit: str,
) -> None:
    # A point of care is a code, not formatted text: `\.br\` there read as a unit "WARD<CR>7".
    checker = Checker("RR8", default_profile("RR8", "lth-wards"), CONTEXT, frozenset({"P"}))
    (outcome,) = checker.check_bytes(escaped_admission("UNICODE UTF-8", unit))
    assert (outcome.ack, outcome.events) == ("AE", [])
    assert outcome.refusal is not None
    assert (outcome.refusal.reason, outcome.refusal.field) == ("invalid_field", "PV1-3.1")
    # The contract field is named once, as the sender reads it in ERR-8.
    assert outcome.refusal.message.startswith("unit: holds control character")


def test_hex_escapes_leave_the_other_escapes_and_mshs_separators_alone() -> None:
    raw = escaped_admission("UNICODE UTF-8", "A\\F\\XC3A9\\E\\X41\\.br\\\\XC3A9\\")
    parsed = parse_message(raw).message
    assert parsed.extract_field("PV1", 1, 3, 1, 1, 1) == "A|XC3A9\\X41\r\u00e9"
    assert str(parsed.segment("MSH")(2)) == "^~\\&"


def test_an_ack_never_quotes_an_nhs_number_put_where_a_location_goes(tmp_path: Path) -> None:
    rules_only = MappingProfile(organisation="RR8", locations=[])  # no default service
    raw = "\r".join(
        [
            "MSH|^~\\&|PAS|RR8|FS|LEEDS|20250601101500||ADT^A01|C2|P|2.4",
            "EVN|A01|20250601090000",
            PID,
            pv1(f3="943 476 5919", f4="E", f44="20250601090000"),
        ]
    ).encode()

    ack, publisher = answered(raw, tmp_path, rules_only)

    assert str(ack.segment("MSA")(1)) == "AE"
    assert "[nhs-number?]" in str(ack.segment("ERR")(8))
    assert "943 476 5919" not in str(ack) and publisher.published == []


def test_the_log_names_the_acknowledgement_code_the_sender_was_sent(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Enhanced mode (MSH-15 AL): an error in content is answered CE, and the log said "AE".
    raw = "\r".join(
        [
            "MSH|^~\\&|PAS|RR8|FS|LEEDS|20250601101500||ADT^A01|C9|P|2.5|||AL|NE",
            "PID|1||9434765918^^^NHS^NH",  # fails its check digit, and no other identifier
            pv1(f3="WARD7", f4="E", f44="20250601090000"),
        ]
    ).encode()
    caplog.set_level("WARNING", logger="flowsight.hl7")
    ack, _ = answered(raw, tmp_path)
    assert str(ack.segment("MSA")(1)) == "CE"
    [line] = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert "refused (CE)" in line, line
