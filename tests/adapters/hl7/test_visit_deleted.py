"""An A23 (delete a patient visit) of a visit created in error takes the patient off the board,
as its A11 would; an A23 of a finished visit (PV1-45 sent) purges old history from the PAS, and
the stay that happened stays counted."""

from __future__ import annotations

from flowsight.adapters.hl7.check import Checker, Outcome
from tests.adapters.hl7.test_event_ids_over_a_visit import ARRIVED, CONTEXT, sent, validated, visit
from tests.adapters.hl7.test_keyed_in_again import ADMITTED, DISCHARGED, PROFILE, patient
from tests.services.test_batch import Worker

# Deleted three hours after the admission; EVN-6 is the deletion's time, not the arrival's.
DELETED = sent("A23", "M9", "EVN|A23|20261123110000||||20261123110000", visit("I", "LGI^WARD7"))


def folded(*messages: bytes) -> tuple[Worker, list[Outcome]]:
    """The messages checked as the listener does, their events folded as the tracker does."""
    checker = Checker("RR8", PROFILE, CONTEXT, frozenset({"P"}))
    outcomes = [outcome for raw in messages for outcome in checker.check_bytes(raw)]
    worker = Worker()
    worker.fold(*(validated(event) for outcome in outcomes for event in outcome.events))
    return worker, outcomes


def test_a_visit_deleted_before_its_discharge_leaves_the_bed() -> None:
    worker, outcomes = folded(ADMITTED, DELETED)

    assert [outcome.ack for outcome in outcomes] == ["AA", "AA"]
    assert [e["cancels_event_id"] for e in outcomes[-1].events] == [
        "V-1:admission:20261123T080000Z"
    ]
    assert patient(worker).in_services == {}
    assert patient(worker).stays == []


def test_a_visit_deleted_at_the_ed_ends_no_attendance_it_retracts_it() -> None:
    arrived = sent("A04", "M1", f"EVN|A04|{ARRIVED}", visit("E", "EDMAJ^CUB1"))
    deleted = sent("A23", "M2", "EVN|A23|20261123090000", visit("E", "EDMAJ^CUB1"))

    worker, outcomes = folded(arrived, deleted)

    assert outcomes[-1].ack == "AA"
    assert patient(worker).attendances == []


def test_a_finished_visit_purged_keeps_its_stay() -> None:
    purged = sent(
        "A23",
        "M9",
        "EVN|A23|20270101020000",
        visit("I", "LGI^WARD7", discharged="20261123150000", destination="19"),
    )

    worker, outcomes = folded(ADMITTED, DISCHARGED, purged)

    assert outcomes[-1].ack == "AA" and outcomes[-1].events == []
    (stay,) = patient(worker).stays
    assert stay.ended_at is not None


def test_a_deleted_visit_without_its_admit_time_is_refused_naming_pv1_44() -> None:
    deleted = sent("A23", "M9", "EVN|A23|20261123110000", visit("I", "LGI^WARD7", admitted=""))

    (outcome,) = folded(deleted)[1]

    assert outcome.ack == "AE"
    assert outcome.refusal is not None and outcome.refusal.field == "PV1-44"
