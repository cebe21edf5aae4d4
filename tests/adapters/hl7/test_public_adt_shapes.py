"""Shapes of real public ADT messages the mapping once dropped, refused or distorted (each test
fails on the old code)."""

from __future__ import annotations

from datetime import timedelta

from flowsight.adapters.catalogue import load_catalogue
from flowsight.adapters.hl7.check import Checker, Outcome
from flowsight.services.validation import ValidationContext
from flowsight.settings import DEFAULT_CATALOGUE
from tests.adapters.hl7.profiles import ED_AND_WARDS
from tests.adapters.hl7.test_mapping import PID, msh, pv1

CONTEXT = ValidationContext(load_catalogue(DEFAULT_CATALOGUE), b"k" * 32, timedelta(minutes=5))


def checked(*messages: tuple[str, ...]) -> list[Outcome]:
    """What `flowsight hl7 check` (and the listener) answers each message, in order."""
    checker = Checker("RR8", ED_AND_WARDS, CONTEXT, frozenset({"P"}))
    return [checker.check_message("\r".join(segments).encode()) for segments in messages]


# 1. An A07 without PV1-6


def test_an_a07_without_a_prior_location_ends_the_stay_where_the_patient_is() -> None:
    # PV1-6 is optional (HL7 v2.5 names a prior location only when it differs): the patient
    # stays in the bed and becomes an outpatient. The old code refused it AE at PV1-6, and the
    # ward kept the patient's bed until the PAS sent an A03 it never would.
    admitted, made_outpatient = checked(
        (msh("A01"), "EVN|A01|20261123090000", PID, pv1(f3="LGI^WARD7^B1", f4="21")),
        (msh("A07"), "EVN|A07|20261123110000", PID, pv1(f2="O", f3="LGI^WARD7^B1")),
    )
    assert [e["event_type"] for e in admitted.events] == ["admission"]
    assert made_outpatient.ack == "AA"
    assert [(e["event_type"], e["service"], e["destination"]) for e in made_outpatient.events] == [
        ("discharge", "lth-wards", "other")
    ]
    assert made_outpatient.events[0]["occurred_at"] == "2026-11-23T11:00:00+00:00"
    assert any("PV1-6" in warning for warning in made_outpatient.warnings)


def test_an_a07_in_the_ed_without_a_prior_location_ends_nothing() -> None:
    # An A06 in the ED admits no one until the A02 out of it; its A07 has no stay to end.
    (made_outpatient,) = checked(
        (msh("A07"), "EVN|A07|20261123110000", PID, pv1(f2="E", f3="EDMAJ^CUB2")),
    )
    assert (made_outpatient.ack, made_outpatient.events) == ("AA", [])
    assert made_outpatient.ignored


def test_an_a07_with_neither_location_is_refused_naming_pv1_3() -> None:
    (refused,) = checked((msh("A07"), "EVN|A07|20261123110000", PID, pv1(f2="O")))
    assert refused.ack == "AE" and refused.refusal is not None
    assert (refused.refusal.reason, refused.refusal.field) == ("hl7_missing_field", "PV1-3")


# 2. A local id whose issuer only MSH-3 names


def test_a_local_id_without_cx4_or_msh4_is_the_sending_applications() -> None:
    # LinuxForHealth/hl7v2-fhir-converter's ADT^A03 test messages: PID-3 `1234^^^^MR` and no
    # MSH-4. The old code refused every message AE at PID-3.4: the patient never on the board.
    (discharged,) = checked(
        (
            "MSH|^~\\&|TestSystem||TestTransformationAgent||20150502090000||ADT^A03|controlID|P|2.6",
            "EVN|A01|20150502090000|",
            "PID|||1234^^^^MR",
            "PV1||I||||||||SUR||||||||S|VisitNumber^^^ACME|A||||||||||||||||||||||||"
            "20150502090000|",
        ),
    )
    assert discharged.ack == "AA", discharged.refusal
    (event,) = discharged.events
    assert event["event_type"] == "discharge"
    assert event["patient"] == {"local_id": "1234", "id_system": "TestSystem"}
    assert event["episode_id"] == "VisitNumber"


def test_msh4_still_names_the_issuer_before_msh3() -> None:
    (admitted,) = checked(
        (msh("A01"), "EVN|A01|20261123090000", "PID|1||RR8123456^^^^MR", pv1(f3="LGI^WARD7")),
    )
    assert admitted.events[0]["patient"] == {"local_id": "RR8123456", "id_system": "RR8"}
