"""A17, swap patients: each patient's move to the other's bed is the transfer an A02 would be.

Each fails on the old code, which acknowledged an A17 AA and published nothing.
"""

from __future__ import annotations

from datetime import timedelta

from flowsight.adapters.catalogue import load_catalogue
from flowsight.adapters.hl7.check import Checker, Outcome
from flowsight.services.validation import ValidationContext
from flowsight.settings import DEFAULT_CATALOGUE
from tests.adapters.hl7.test_mapping import LOCATIONS, PID, msh, pv1

CONTEXT = ValidationContext(load_catalogue(DEFAULT_CATALOGUE), b"k" * 32, timedelta(minutes=5))
OTHER_PID = "PID|1||RR8999^^^RR8^MR~4010232137^^^NHS^NH||Jones^Ann||19600101|F"
EVN = "EVN|A17|20261123101400||||20261123101000"


def swap(first_pv1: str, second_pv1: str, second_pid: str = OTHER_PID) -> Outcome:
    raw = "\r".join([msh("A17"), EVN, PID, first_pv1, second_pid, second_pv1]).encode()
    checker = Checker("RR8", LOCATIONS.profile("RR8"), CONTEXT, frozenset({"P"}))
    (outcome,) = checker.check_bytes(raw)
    return outcome


def test_a_swap_between_services_is_a_transfer_of_each_patient() -> None:
    outcome = swap(
        pv1(f3="TOCH^B1", f6="WARD7^B4", f19="SPELL-1"),
        pv1(f3="WARD7^B4", f6="TOCH^B1", f19="SPELL-2"),
    )
    assert (outcome.ack, outcome.refusal, outcome.trigger) == ("AA", None, "A17")
    moves = [
        (
            e["event_id"],
            e["patient"]["nhs_number"],
            e["from_service"],
            e["to_service"],
            e["to_unit"],
        )
        for e in outcome.events
    ]
    assert moves == [
        ("SPELL-1:transfer:20261123T101000Z", "9434765919", "lth-wards", "lth-toc-hub", "TOCH"),
        ("SPELL-2:transfer:20261123T101000Z", "4010232137", "lth-toc-hub", "lth-wards", "WARD7"),
    ]
    assert {e["event_type"] for e in outcome.events} == {"transfer"}


def test_a_swap_of_beds_within_one_unit_publishes_nothing() -> None:
    outcome = swap(
        pv1(f3="WARD7^B1", f6="WARD7^B4", f19="SPELL-1"),
        pv1(f3="WARD7^B4", f6="WARD7^B1", f19="SPELL-2"),
    )
    assert (outcome.ack, outcome.refusal, outcome.events) == ("AA", None, [])
    assert outcome.ignored == "both patients stay within their units"


def test_a_swap_without_the_second_patients_prior_location_takes_the_first_patients_bed() -> None:
    # As Epic sends it: the second PV1-6 empty. Patient 2 left the bed patient 1 now has.
    outcome = swap(
        pv1(f3="TOCH^B1", f6="WARD7^B4", f19="SPELL-1"),
        pv1(f3="WARD7^B4", f19="SPELL-2"),
    )
    assert (outcome.ack, outcome.refusal) == ("AA", None)
    moves = [(e["episode_id"], e["from_service"], e["to_service"]) for e in outcome.events]
    assert moves == [
        ("SPELL-1", "lth-wards", "lth-toc-hub"),
        ("SPELL-2", "lth-toc-hub", "lth-wards"),
    ]
    assert any(w.startswith("PV1-6 of patient 2 of the A17: empty") for w in outcome.warnings)


def test_a_swap_without_either_prior_location_takes_each_from_the_other_patient() -> None:
    outcome = swap(pv1(f3="TOCH^B1", f19="SPELL-1"), pv1(f3="WARD7^B4", f19="SPELL-2"))
    assert (outcome.ack, outcome.refusal) == ("AA", None)
    moves = [(e["episode_id"], e["from_service"], e["to_service"]) for e in outcome.events]
    assert moves == [
        ("SPELL-1", "lth-wards", "lth-toc-hub"),
        ("SPELL-2", "lth-toc-hub", "lth-wards"),
    ]


def test_a_swap_whose_missing_prior_location_cannot_be_known_is_refused_naming_it() -> None:
    # Patient 2's PV1-6 is empty and patient 1's PV1-3 holds only a bed: nothing names the ward.
    outcome = swap(
        pv1(f3="^^B1", f6="WARD7^B4", f19="SPELL-1"),
        pv1(f3="WARD7^B4", f19="SPELL-2"),
    )
    assert (outcome.ack, outcome.events) == ("AE", [])
    assert outcome.refusal is not None
    assert (outcome.refusal.reason, outcome.refusal.field) == ("hl7_missing_field", "PV1-3")
    assert outcome.refusal.message.startswith("patient 1 of the A17: ")


def test_a_swap_with_one_patient_is_refused() -> None:
    raw = "\r".join([msh("A17"), EVN, PID, pv1(f3="TOCH^B1", f6="WARD7^B4")]).encode()
    checker = Checker("RR8", LOCATIONS.profile("RR8"), CONTEXT, frozenset({"P"}))
    (outcome,) = checker.check_bytes(raw)
    assert (outcome.ack, outcome.events) == ("AE", [])
    assert outcome.refusal is not None
    assert (outcome.refusal.reason, outcome.refusal.field) == ("hl7_missing_segment", "PID")
