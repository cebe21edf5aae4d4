"""Moves of a visit that holds no bed move nothing; a cancelled move without its time puts the
patient back; an admission from a clinic ends no ED attendance (each fails on the old code).

The messages are shaped as Epic (v2.4, UCLH-DHCT/emap's test messages) and a v2.3 PAS send
them: an outpatient moved between clinics gets an A02 (HL7 v2.5 3.3.2: "can be used with
admitted and non-admitted patients"), and many feeds send an A12 with EVN-2 alone.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from flowsight.adapters.catalogue import load_catalogue
from flowsight.adapters.hl7.check import Checker, Outcome
from flowsight.adapters.hl7.mapping import Mapped, NoChange, map_message
from flowsight.adapters.profile import MappingProfile
from flowsight.services.validation import Rejected, ValidationContext
from flowsight.settings import DEFAULT_CATALOGUE
from tests.adapters.hl7.profiles import ED_AND_WARDS
from tests.adapters.hl7.test_mapping import PID, message, msh, pv1

ED = frozenset({"lth-ed"})
#: The ED and the wards placed by rule; clinics only by the default service.
PROFILE = ED_AND_WARDS
CONTEXT = ValidationContext(load_catalogue(DEFAULT_CATALOGUE), b"k" * 32, timedelta(minutes=5))
#: Two outpatient departments (PL.1), the unit an A02 would move the patient between.
FRACTURES, PLASTER = "FRACTURE CLINIC^ROOM 4^^RR8", "PLASTER ROOM^CUBICLE 2^^RR8"
EPIC_MSH = "MSH|^~\\&|EPIC|UCLH|||{time}|IPUC|ADT^{trigger}|{control}|P|2.4|||AL|NE"
EPIC_EVN = "EVN|{trigger}|{recorded}||ADT_EVENT|IPUC^COORDINATOR^OUTPATIENT^UNIT|{occurred}"


def epic(trigger: str, control: str, recorded: str, occurred: str, visit: str) -> tuple[str, ...]:
    header = EPIC_MSH.format(time=recorded, trigger=trigger, control=control)
    return (
        header,
        EPIC_EVN.format(trigger=trigger, recorded=recorded, occurred=occurred),
        PID,
        visit,
    )


def checked(*messages: tuple[str, ...], profile: MappingProfile = PROFILE) -> list[Outcome]:
    """What `flowsight hl7 check` (and the listener) answers each message, in order."""
    checker = Checker("RR8", profile, CONTEXT, frozenset({"P"}))
    return [checker.check_message("\r".join(segments).encode()) for segments in messages]


def result(*segments: str, profile: MappingProfile = PROFILE) -> Any:
    return map_message(message(*segments), organisation="RR8", profile=profile, front_door=ED)


# 1. A02 and A12 of a visit that holds no bed


@pytest.mark.parametrize("patient_class", ["O", "R"])
def test_an_outpatient_moved_between_clinics_starts_no_stay(patient_class: str) -> None:
    # The old code published a transfer lth-wards -> lth-wards for a patient in no bed: the
    # journey started a ward stay (transfer_without_admission) that nothing would end.
    def clinic(now: str, before: str) -> str:
        return pv1(f2=patient_class, f3=now, f6=before, f19="OP-77", f44="20261123100000")

    registered, moved, moved_back = checked(
        epic("A04", "M1", "20261123100000", "20261123100000", clinic(FRACTURES, "")),
        epic("A02", "M2", "20261123103000", "20261123103000", clinic(PLASTER, FRACTURES)),
        epic("A12", "M3", "20261123104000", "20261123103000", clinic(FRACTURES, PLASTER)),
    )
    answers = [(o.ack, o.events, o.refusal) for o in (registered, moved, moved_back)]
    assert answers == [("AA", [], None)] * 3


def test_an_outpatient_move_with_no_prior_location_is_acknowledged() -> None:
    # The old code refused it AE at PV1-6; a clinic visit holds no bed, so where it was is moot.
    (outcome,) = checked(
        (msh("A02"), "EVN|A02|20261123103000", PID, pv1(f2="O", f3="OPD2", f19="OP-77")),
    )
    assert (outcome.ack, outcome.events, outcome.refusal) == ("AA", [], None)


def test_an_outpatient_move_is_counted_as_holding_no_bed() -> None:
    moved = result(msh("A02"), "EVN|A02|20261123103000", PID, pv1(f2="O", f3="OPD2", f6="OPD1"))
    assert isinstance(moved, NoChange) and moved.kind == "not_in_a_bed"


@pytest.mark.parametrize("patient_class", ["I", "P"])
def test_a_move_of_an_admitted_visit_is_still_a_transfer(patient_class: str) -> None:
    # Class P is kept on the visit some PAS admit with an A01: its moves are real.
    (transfer,) = result(
        msh("A02"),
        "EVN|A02|20261123103000|||C|20261123103000",
        PID,
        pv1(f2=patient_class, f3="LGI^WARD8^B2", f6="LGI^WARD7^B1"),
    ).events
    assert (transfer["event_type"], transfer["to_unit"]) == ("transfer", "WARD8")


def test_an_outpatient_admitted_by_an_a06_then_moved_is_transferred() -> None:
    admitted, moved = checked(
        (msh("A06"), "EVN|A06|20261123110000", PID, pv1(f2="I", f3="LGI^WARD7^B1", f6="OPD1")),
        (
            msh("A02"),
            "EVN|A02|20261123120000|||C|20261123120000",
            PID,
            pv1(f2="I", f3="LGI^WARD8^B1", f6="LGI^WARD7^B1"),
        ),
    )
    assert [e["event_type"] for e in admitted.events] == ["admission"]
    assert [(e["event_type"], e["to_unit"]) for e in moved.events] == [("transfer", "WARD8")]


def test_an_inpatient_made_an_outpatient_is_discharged_and_then_moves_nothing() -> None:
    made_outpatient, moved = checked(
        (msh("A07"), "EVN|A07|20261123110000", PID, pv1(f2="O", f3="OPD1", f6="LGI^WARD7^B1")),
        (msh("A02"), "EVN|A02|20261123120000", PID, pv1(f2="O", f3="OPD2", f6="OPD1")),
    )
    assert [(e["event_type"], e["service"]) for e in made_outpatient.events] == [
        ("discharge", "lth-wards")
    ]
    assert (moved.ack, moved.events) == ("AA", [])


def test_an_outpatient_move_into_the_ed_is_still_mapped() -> None:
    # A place the profile gives the ED is an attendance's, whatever the class (as an arrival).
    moved = result(
        msh("A02"), "EVN|A02|20261123103000", PID, pv1(f2="O", f3="EDMAJ^CUB2", f6="EDRESUS")
    )
    assert isinstance(moved, NoChange) and moved.kind == "same_place"


# 2. An A12 without EVN-6


def test_an_a12_without_evn6_puts_the_patient_back_where_they_were() -> None:
    # A v2.3 PAS sends EVN-2 alone. The A02's id is its EVN-2; the A12's EVN-2 is when the
    # cancel was recorded, so no id names the transfer: the old code refused it AE at EVN-6 and
    # the patient stayed on the ward they never reached.
    moved, cancelled = checked(
        (msh("A02"), "EVN|A02|20261123101600", PID, pv1(f3="LGI^WARD8^B2", f6="LGI^WARD7^B1")),
        (msh("A12"), "EVN|A12|20261123104500", PID, pv1(f3="LGI^WARD7^B1", f6="LGI^WARD8^B2")),
    )
    assert [(e["event_type"], e["to_unit"]) for e in moved.events] == [("transfer", "WARD8")]
    assert cancelled.ack == "AA"
    (back,) = cancelled.events
    assert (back["event_type"], back["from_service"], back["to_unit"]) == (
        "transfer",
        "lth-wards",
        "WARD7",
    )
    assert back["occurred_at"] == "2026-11-23T10:45:00+00:00"
    assert back["event_id"] != moved.events[0]["event_id"]
    assert any("EVN-6" in warning for warning in cancelled.warnings)


def test_an_a12_without_evn6_or_evn2_is_refused_naming_evn2() -> None:
    # MSH-7 changes when the message is resent: the move back would be made again each time.
    refusal = result(msh("A12"), "EVN|A12|", PID, pv1(f3="LGI^WARD7^B1", f6="LGI^WARD8^B2"))
    assert isinstance(refusal, Rejected)
    assert (refusal.reason, refusal.field) == ("hl7_missing_field", "EVN-2")


def test_an_a12_within_one_unit_without_evn6_changes_nothing() -> None:
    back = result(
        msh("A12"), "EVN|A12|20261123104500", PID, pv1(f3="LGI^WARD7^B1", f6="LGI^WARD7^B2")
    )
    assert isinstance(back, NoChange) and back.kind == "same_place"


def test_an_a12_with_evn6_still_cancels_by_id() -> None:
    (cancel,) = result(
        msh("A12"),
        "EVN|A12|20261123104500|||C|20261123101600",
        PID,
        pv1(f3="LGI^WARD7^B1", f6="LGI^WARD8^B2"),
    ).events
    assert cancel["event_type"] == "cancellation"


def test_an_a12_back_to_the_ed_without_evn6_is_still_refused() -> None:
    # The A02 out of the ED ended the attendance; a move back cannot reopen it.
    refusal = result(
        msh("A12"), "EVN|A12|20261123104500", PID, pv1(f2="E", f3="EDMAJ", f6="LGI^WARD7^B1")
    )
    assert isinstance(refusal, Rejected)
    assert (refusal.reason, refusal.field) == ("hl7_missing_field", "EVN-6")


# 3. An A06 from a clinic the default service places, where the profile places the ED


def test_an_outpatient_admitted_from_a_clinic_ends_no_ed_attendance() -> None:
    # The old code published an ED attendance that began and ended at 11:30 (outcome admitted)
    # for a patient who was never in the ED: one more attendance and one more admission from
    # the ED in the department's figures.
    clinic = "OPD^FRACTURE CLINIC^^RR8"
    registered, admitted = checked(
        epic("A04", "M1", "20261123100000", "20261123100000", pv1(f2="O", f3=clinic, f19="V-9")),
        epic(
            "A06",
            "M2",
            "20261123113000",
            "20261123113000",
            pv1(f2="I", f3="LGI^WARD7^B1^RR8", f6=clinic, f19="V-9"),
        ),
    )
    assert registered.events == []
    assert [(e["event_type"], e["service"]) for e in admitted.events] == [
        ("admission", "lth-wards")
    ]


def test_an_a06_from_an_ed_the_profile_places_still_ends_the_attendance() -> None:
    mapped = result(
        msh("A06"), "EVN|A06|20261123113000", PID, pv1(f2="I", f3="LGI^WARD7", f6="EDMAJ^CUB2")
    )
    assert isinstance(mapped, Mapped)
    assert [(e["event_type"], e.get("outcome")) for e in mapped.events] == [
        ("attendance", "admitted"),
        ("admission", None),
    ]
