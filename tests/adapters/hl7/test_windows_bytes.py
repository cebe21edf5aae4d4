"""A PAS on Windows that declares no character set (MSH-18 empty) and writes Windows-1252: its
curly apostrophe (byte 0x92) reaches the ward name as a right single quotation mark (U+2019), never as the control character U+0092
that reading the bytes as Latin-1 made of it, which the contract refuses in a text field."""

from __future__ import annotations

from flowsight.adapters.hl7.check import Checker, Outcome
from flowsight.adapters.hl7.parse import parse_message
from flowsight.adapters.profile import default_profile
from tests.adapters.hl7.test_swap import CONTEXT

ADMITTED = "\r".join(
    [
        "MSH|^~\\&|PAS|RR8|FLOWSIGHT|LEEDS|20261123081500||ADT^A01^ADT_A01|W0001|P|2.4",
        "EVN|A01|20261123081400||||20261123080000",
        "PID|1||RR8123456^^^RR8^MR~9434765919^^^NHS^NH||O\u2019Brien^Siobhán||19450312|F",
        "PV1|1|I|ST JOHN\u2019S^BAY 2^BED 3^RR8|21|||C1234567^Jones^Sarah^^^Dr|||GMED||||19|||"
        "C1234567^Jones^Sarah^^^Dr||SPELL-W1",
    ]
)


def checked(raw: bytes) -> Outcome:
    checker = Checker("RR8", default_profile("RR8", "lth-wards"), CONTEXT, frozenset({"P"}))
    (outcome,) = checker.check_bytes(raw)
    return outcome


def test_a_windows_apostrophe_in_an_undeclared_message_reaches_the_ward_name() -> None:
    raw = ADMITTED.encode("cp1252")
    assert b"JOHN\x92S" in raw

    outcome = checked(raw)

    assert (outcome.ack, outcome.refusal) == ("AA", None)
    ((event_type, unit),) = [(e["event_type"], e["unit"]) for e in outcome.events]
    assert (event_type, unit) == ("admission", "ST JOHN\u2019S")


def test_a_c1_control_in_a_ward_name_is_refused_naming_the_field_and_the_character() -> None:
    # A byte Windows-1252 leaves undefined (0x81) elsewhere: the message is read as Latin-1,
    # 0x92 stays U+0092, and the ward named with it is refused rather than stored unreadable.
    raw = ADMITTED.encode("cp1252").replace(b"Siobh\xe1n", b"Siobh\x81n")

    outcome = checked(raw)

    assert (outcome.ack, outcome.events) == ("AE", [])
    assert outcome.refusal is not None
    assert outcome.refusal.field == "PV1-3.1"
    assert "U+0092" in outcome.refusal.message


def test_undeclared_bytes_windows_1252_leaves_undefined_are_read_as_latin1() -> None:
    parsed = parse_message(ADMITTED.encode("cp1252").replace(b"Siobh\xe1n", b"Siobh\x81n"))
    assert parsed.encoding == "latin-1"
    assert parsed.message.extract_field("PID", 1, 5, 1, 2, 1) == "Siobh\x81n"
