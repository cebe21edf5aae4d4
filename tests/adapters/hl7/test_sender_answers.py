"""What a sender is answered, and what is dead-lettered, for messages whose trigger or bytes
cannot be read as sent (each fails on the old code)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import hl7
from prometheus_client import CollectorRegistry

from flowsight.adapters.catalogue import load_catalogue
from flowsight.adapters.hl7.handler import AdtHandler
from flowsight.adapters.hl7.metrics import ListenerMetrics
from flowsight.adapters.profile import default_profile
from flowsight.services.validation import ValidationContext
from flowsight.settings import DEFAULT_CATALOGUE
from tests.adapters.hl7.listening import RecordingPublisher, settings
from tests.adapters.hl7.test_mapping import PID, pv1

CONTEXT = ValidationContext(load_catalogue(DEFAULT_CATALOGUE), b"k" * 32, timedelta(minutes=5))


def answered(raw: bytes, directory: Path) -> tuple[Any, RecordingPublisher]:
    """The ACK a listener for RR8 sends for `raw` (parsed), and what it published."""
    publisher = RecordingPublisher(settings(directory))
    handler = AdtHandler(
        publisher,
        CONTEXT,
        "RR8",
        default_profile("RR8", "lth-wards"),
        ListenerMetrics(CollectorRegistry()),
        max_message_bytes=512 * 1024,
        publish_timeout=5.0,
        processing_ids=None,
        application="FLOWSIGHT",
    )
    reply = asyncio.run(handler.acknowledge(raw))
    assert reply is not None
    return hl7.parse(reply.decode()), publisher


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
