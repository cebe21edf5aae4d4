"""A PAS whose clock runs ahead of flowsight's: its cancels (A13, A11) are timed by EVN-2, in the
future here, yet they still undo the discharge or admission they name, and what is keyed in again
after them still takes effect again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flowsight.adapters.hl7.check import Checker, Outcome
from tests.adapters.hl7.test_event_ids_over_a_visit import CONTEXT, sent, validated, visit
from tests.adapters.hl7.test_keyed_in_again import PROFILE, patient
from tests.services.test_batch import Worker

AHEAD = timedelta(minutes=30)  # the PAS clock, against flowsight's (5 minutes' skew allowed)
NOW = datetime.now(UTC)


def ts(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%d%H%M%S+0000")


def keyed(trigger: str, control: str, at: datetime, **times: datetime) -> bytes:
    """A message keyed in at `at` (our clock), so EVN-2 reads `at` + AHEAD on the PAS's."""
    shown = {name: ts(moment) for name, moment in times.items()}
    admitted = shown.pop("admitted", ts(NOW - timedelta(hours=3)))
    return sent(
        trigger,
        control,
        f"EVN|{trigger}|{ts(at + AHEAD)}",
        visit("I", "LGI^WARD7", admitted=admitted, **shown, destination="19"),
    )


ADMITTED = keyed("A01", "M1", NOW - timedelta(hours=3))
DISCHARGED_AT = NOW - timedelta(hours=1)
DISCHARGED = keyed("A03", "M2", DISCHARGED_AT, discharged=DISCHARGED_AT)
CANCELLED = keyed("A13", "M3", NOW, discharged=DISCHARGED_AT)  # EVN-2 30 minutes from now


def checked(*messages: bytes) -> list[Outcome]:
    checker = Checker("RR8", PROFILE, CONTEXT, frozenset({"P"}))
    return [outcome for raw in messages for outcome in checker.check_bytes(raw)]


def test_a_cancelled_discharge_from_a_pas_whose_clock_runs_ahead_puts_the_patient_back() -> None:
    outcomes = checked(ADMITTED, DISCHARGED, CANCELLED)
    assert [outcome.ack for outcome in outcomes] == ["AA", "AA", "AA"], outcomes[-1].refusal
    (warning,) = outcomes[-1].warnings
    assert warning.startswith("EVN-2 is ") and "clock runs ahead" in warning

    worker = Worker()
    worker.fold(*(validated(event) for outcome in outcomes for event in outcome.events))
    assert set(patient(worker).in_services) == {"lth-wards"}  # back in the bed

    # Keyed in again a minute later (on the PAS's clock too): the patient is discharged.
    again = keyed("A03", "M4", NOW + timedelta(minutes=1), discharged=DISCHARGED_AT)
    (outcome,) = checked(again)
    changes = worker.fold(*(validated(event) for event in outcome.events))
    assert changes.outcomes == {("discharge", "applied"): 1}
    assert patient(worker).in_services == {}


def test_a_cancelled_admission_from_a_pas_whose_clock_runs_ahead_frees_the_bed() -> None:
    cancelled = keyed("A11", "M2", NOW)
    outcomes = checked(ADMITTED, cancelled)
    assert [outcome.ack for outcome in outcomes] == ["AA", "AA"], outcomes[-1].refusal

    worker = Worker()
    worker.fold(*(validated(event) for outcome in outcomes for event in outcome.events))
    assert patient(worker).in_services == {}


def test_a_cancel_keyed_in_on_time_is_timed_by_its_evn2_without_a_warning() -> None:
    keyed_at = (NOW - timedelta(minutes=2)).replace(microsecond=0)
    on_time = sent(
        "A13",
        "M3",
        f"EVN|A13|{ts(keyed_at)}",
        visit("I", "LGI^WARD7", discharged=ts(DISCHARGED_AT), destination="19"),
    )
    *_, outcome = checked(ADMITTED, DISCHARGED, on_time)
    assert outcome.ack == "AA" and outcome.warnings == []
    assert {event["occurred_at"] for event in outcome.events} == {keyed_at.isoformat()}


def test_a_cancelled_transfer_without_evn6_from_a_pas_whose_clock_runs_ahead_moves_back() -> None:
    # Many feeds send an A12 with EVN-2 alone: it is mapped as the move back, PV1-6 to PV1-3,
    # which is a retraction too, so it is timed no later than it was received.
    transferred_at = NOW - timedelta(hours=1)
    moved = sent(
        "A02",
        "M2",
        f"EVN|A02|{ts(transferred_at + AHEAD)}||||{ts(transferred_at)}",
        visit("I", "TOCH^R1", "LGI^WARD7^B1", admitted=ts(NOW - timedelta(hours=3))),
    )
    back = visit("I", "LGI^WARD7^B1", "TOCH^R1", admitted=ts(NOW - timedelta(hours=3)))
    cancelled = sent("A12", "M3", f"EVN|A12|{ts(NOW + AHEAD)}", back)  # EVN-2 alone, ahead
    outcomes = checked(ADMITTED, moved, cancelled)
    assert [outcome.ack for outcome in outcomes] == ["AA", "AA", "AA"], outcomes[-1].refusal
    assert any("clock runs ahead" in warning for warning in outcomes[-1].warnings)
    (event,) = outcomes[-1].events
    assert event["event_id"].endswith(f":transfer:{ts(NOW + AHEAD)[:8]}T{ts(NOW + AHEAD)[8:14]}Z")

    worker = Worker()
    worker.fold(*(validated(event) for outcome in outcomes for event in outcome.events))
    assert set(patient(worker).in_services) == {"lth-wards"}  # back on the ward
