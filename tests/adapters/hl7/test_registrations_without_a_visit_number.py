"""An outpatient registration holds no bed, so it needs no visit number to be acknowledged.

IHE PIX and PAM patient identity feeds (ITI-8, as Open eHealth IPF's test messages send them)
register outpatients with an A01 or A04 whose PV1 is `PV1||O` alone: no visit number (PV1-19),
no account number (PID-18). Such a visit publishes nothing wherever it is; it was refused AE at
PV1-19, so the sender's engine queued each one as an error.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from flowsight.adapters.catalogue import load_catalogue
from flowsight.adapters.hl7.check import Checker
from flowsight.services.validation import ValidationContext
from flowsight.settings import DEFAULT_CATALOGUE
from tests.adapters.hl7.profiles import ED_AND_WARDS

CONTEXT = ValidationContext(load_catalogue(DEFAULT_CATALOGUE), b"k" * 32, timedelta(minutes=5))
PIX_PID = (
    "PID|1||306563^^^MPI&2.16.840.1.113883.3.37.4.1.1.2.1.1&ISO||Barker^Bob^R.^^^^L||19290405|M"
)


def answer(trigger: str, visit: str) -> tuple[str, list[object], str | None]:
    raw = "\r".join(
        [
            f"MSH|^~\\&|ICW_MPI|ICW|PIXMGR|ICW|20261123101500||ADT^{trigger}|371601|P^T|2.3.1",
            f"EVN|{trigger}|20261123101500",
            PIX_PID,
            visit,
        ]
    ).encode()
    (outcome,) = Checker("RR8", ED_AND_WARDS, CONTEXT, frozenset({"P"})).check_bytes(raw)
    return outcome.ack, outcome.events, outcome.refusal and outcome.refusal.field


@pytest.mark.parametrize("trigger", ["A01", "A04", "A03"])
def test_an_outpatient_visit_without_a_visit_number_is_acknowledged(trigger: str) -> None:
    assert answer(trigger, "PV1||O") == ("AA", [], None)


def test_an_inpatient_visit_without_a_visit_number_is_still_refused() -> None:
    assert answer("A01", "PV1||I|LGI^WARD7^B1") == ("AE", [], "PV1-19")


def test_an_outpatient_visit_without_a_sending_application_is_acknowledged() -> None:
    # python-hl7's sample A04 (class O) has no MSH-3: it names no source system, but publishes
    # nothing that would need one.
    raw = "\r".join(
        [
            "MSH|^~\\&||ICW|PIXMGR|ICW|20261123101500||ADT^A04|371602|P|2.3.1",
            "EVN|A04|20261123101500",
            PIX_PID,
            "PV1||O",
        ]
    ).encode()
    (outcome,) = Checker("RR8", ED_AND_WARDS, CONTEXT, frozenset({"P"})).check_bytes(raw)
    assert (outcome.ack, outcome.events) == ("AA", [])
    admitted = raw.replace(b"PV1||O", b"PV1||I|LGI^WARD7^B1||||||||||||||||V1")
    (refused,) = Checker("RR8", ED_AND_WARDS, CONTEXT, frozenset({"P"})).check_bytes(admitted)
    assert refused.ack == "AE" and refused.refusal and refused.refusal.field == "MSH-3"
