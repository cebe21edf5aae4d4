"""A time refused as in the future is named by the field it was read from: PV1-45 for a
discharge, PV1-44 for an admission, where the sender keyed it (each test fails on the old code,
which named EVN-6 in a message with no EVN segment)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from flowsight.adapters.hl7.check import Checker
from flowsight.adapters.profile import default_profile
from tests.adapters.hl7.test_sender_answers import CONTEXT, answered

#: A year from now, as a slip of the year's digit keys it.
NEXT_YEAR = (datetime.now(UTC) + timedelta(days=365)).strftime("%Y%m%d%H%M")


def pkb(trigger: str, admitted: str, discharged: str = "") -> bytes:
    """Patients Know Best's example ADT (HL7 API documentation, CC BY 4.0: the A03 at
    https://sites.google.com/a/patientsknowbest.com/api-documentation/home/hl7-api/messages/adt-a03,
    its A01 alike), its placeholder NHS number 9999999999 the test number 9434765919, with the
    given PV1-44 and PV1-45. It has no EVN segment."""
    return "\r".join(
        [
            f"MSH|^~\\&|SendingApp|SendingFacility|HL7API|PKB|20160102101112||ADT^{trigger}|"
            "ABC0000000001|P|2.4",
            "PID|||9434765919^^^NHS^NH||Smith^John^Joe^^Mr||19700101|M|||Flat name^1, The Road^"
            "London^London^SW1A 1AA^GBR||01234567890^PRN~07123456789^PRS|^NET^^john.smith@"
            "company.com~01234098765^WPN||||||||||||||||N|",
            "PV1|1|I|^^^^^^^^My Ward||||^Jones^Stuart^James^^Dr^|^Smith^William^^^Dr^|"
            "^Foster^Terry^^^Mr^||||||||||V00001|||||||||||||||||||||||||"
            f"{admitted}|{discharged}",
        ]
    ).encode()


DISCHARGED_NEXT_YEAR = pkb("A03", "201508011000", NEXT_YEAR)
ADMITTED_NEXT_YEAR = pkb("A01", NEXT_YEAR)


@pytest.mark.parametrize(
    ("raw", "field"),
    [(DISCHARGED_NEXT_YEAR, "PV1-45"), (ADMITTED_NEXT_YEAR, "PV1-44")],
    ids=["A03 PV1-45", "A01 PV1-44"],
)
def test_a_time_in_the_future_is_refused_naming_the_field_it_was_read_from(
    raw: bytes, field: str
) -> None:
    checker = Checker("RR8", default_profile("RR8", "lth-wards"), CONTEXT, frozenset({"P"}))
    (outcome,) = checker.check_bytes(raw)
    assert outcome.ack == "AE" and outcome.refusal is not None
    assert (outcome.refusal.reason, outcome.refusal.field) == ("in_the_future", field)


def test_the_ack_and_the_dead_letter_name_pv1_45(tmp_path: Path) -> None:
    ack, publisher = answered(DISCHARGED_NEXT_YEAR, tmp_path)

    assert str(ack.segment("MSA")(1)) == "AE"
    assert str(ack.segment("ERR")(2)) == "PV1^1^45^1"
    ((_, headers),) = publisher.dead
    assert (headers["reason"], headers["field"]) == ("in_the_future", "PV1-45")


def test_a_transfer_in_the_future_still_names_evn6() -> None:
    # The field a time was read from, whichever it is: an A02 is timed by EVN-6.
    raw = pkb("A02", "201508011000").replace(
        b"|P|2.4\r", f"|P|2.4\rEVN|A02|20160102101112||||{NEXT_YEAR}\r".encode()
    )
    raw = raw.replace(b"My Ward||||^Jones", b"My Ward|||WARD6|^Jones")  # PV1-6, the ward left
    checker = Checker("RR8", default_profile("RR8", "lth-wards"), CONTEXT, frozenset({"P"}))
    (outcome,) = checker.check_bytes(raw)
    assert outcome.refusal is not None
    assert (outcome.refusal.reason, outcome.refusal.field) == ("in_the_future", "EVN-6")
