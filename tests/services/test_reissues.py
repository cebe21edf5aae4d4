"""An event sent again under the id of an event a cancellation retracted: a new issue when the
source recorded it after the cancellation (`recorded_at`), the same event otherwise.

Folded as the tracker folds validated events, batch after batch; the HL7 messages behind the
real case are in tests/adapters/hl7/test_keyed_in_again.py.
"""

from __future__ import annotations

from flowsight.services.identities import link
from flowsight.services.journey import Event, JourneyState, replay
from tests.services.test_batch import SERVICES, Worker, admission, discharge, patient_event

LOCAL, NHS = "1" * 64, "9" * 64
ADMITTED, LEFT = "2026-05-01T10:00:00.000000Z", "2026-05-03T10:00:00.000000Z"


def at(hour: int) -> str:
    """A time on the day of the discharge, as the validator writes it."""
    return f"2026-05-03T{hour:02d}:00:00.000000Z"


def discharged(recorded: str | None, pseudonym: str = NHS, **fields: str) -> Event:
    """The discharge `d1` at LEFT, as a source sending it at `recorded` says it."""
    event = {**discharge("d1", LEFT, pseudonym), **fields}
    return event if recorded is None else {**event, "recorded_at": recorded}


def cancelled(made: str, pseudonym: str = NHS, event_id: str = "c1") -> Event:
    """A cancellation of `d1` recorded at `made`."""
    return patient_event("cancellation", event_id, made, pseudonym, cancels_event_id="d1")


def state(worker: Worker, pseudonym: str = NHS) -> JourneyState:
    return replay(pseudonym, worker.journeys[pseudonym], SERVICES)


def folded(*batches: list[Event]) -> tuple[Worker, list[str]]:
    worker, refused = Worker(), []
    for batch in batches:
        refused += [r.rejected.reason for r in worker.fold(*batch).refusals]
    return worker, refused


def test_a_discharge_recorded_after_its_cancellation_is_a_new_issue_and_takes_effect() -> None:
    worker, refused = folded(
        [admission("a1", ADMITTED, NHS), discharged(at(11))], [cancelled(at(12))]
    )

    changes = worker.fold(discharged(at(13)))

    assert changes.outcomes == {("discharge", "applied"): 1} and refused == []
    assert state(worker).in_services == {}
    assert changes.since == LEFT, "figures from the discharge on are computed again"


def test_the_same_sending_after_its_cancellation_is_a_duplicate() -> None:
    worker, _ = folded([admission("a1", ADMITTED, NHS), discharged(at(11))], [cancelled(at(12))])

    changes = worker.fold(discharged(at(11), correlation_id="redelivered"))

    assert changes.outcomes == {("discharge", "duplicate"): 1}
    assert state(worker).in_services == {"lth-wards": ADMITTED}


def test_a_sending_recorded_before_the_cancellation_stays_retracted() -> None:
    # A copy recorded before the cancel (a slower path, a retried request) is not the
    # discharge sent again after it: the cancellation reaches it too.
    worker, refused = folded(
        [admission("a1", ADMITTED, NHS), discharged(at(11))],
        [cancelled(at(12))],
        [discharged("2026-05-03T11:30:00.000000Z")],
    )

    assert refused == []
    assert state(worker).in_services == {"lth-wards": ADMITTED}


def test_an_event_that_says_nothing_of_its_recording_stays_retracted_as_before() -> None:
    worker, refused = folded(
        [admission("a1", ADMITTED, NHS), discharged(None)],
        [cancelled(at(12))],
        [discharged(None)],
        [discharged(None, destination="care_home_nursing")],
    )

    assert refused == ["event_id_reused"]
    assert state(worker).in_services == {"lth-wards": ADMITTED}


def test_a_cancellation_that_arrives_first_still_retracts_the_discharge_recorded_before_it() -> (
    None
):
    worker, _ = folded([admission("a1", ADMITTED, NHS), cancelled(at(12))], [discharged(at(11))])

    assert state(worker).in_services == {"lth-wards": ADMITTED}


def test_a_cancellation_after_a_discharge_retracts_it_whatever_the_source_s_clocks_say() -> None:
    # The discharge's recording stamped later than the cancel's own time (a fast clock, a cancel
    # timed by its message's sending): it came after the discharge, so it retracts it.
    worker, _ = folded([admission("a1", ADMITTED, NHS), discharged(at(15))], [cancelled(at(12))])
    assert state(worker).in_services == {"lth-wards": ADMITTED}

    worker.fold(discharged(at(16)))  # and the discharge keyed in again after it still counts
    assert state(worker).in_services == {}


def test_a_new_issue_cancelled_again_is_retracted_and_the_first_cancellation_absorbed() -> None:
    worker, refused = folded(
        [admission("a1", ADMITTED, NHS), discharged(at(11))],
        [cancelled(at(12))],
        [discharged(at(13))],
        [cancelled(at(12))],  # the first cancellation delivered again
    )
    assert state(worker).in_services == {}

    changes = worker.fold(cancelled(at(14)))  # the same cancel, keyed in again

    assert changes.outcomes == {("cancellation", "applied"): 1} and refused == []
    assert state(worker).in_services == {"lth-wards": ADMITTED}


def test_a_journey_moved_on_to_the_nhs_pseudonym_keeps_its_new_issue_in_effect() -> None:
    # Known by the local id, discharged, cancelled, discharged again; then the NHS number is
    # traced: the journey moves on, the new issue after the cancellation it followed.
    worker, _ = folded(
        [admission("a1", ADMITTED, LOCAL), discharged(at(11), LOCAL)],
        [cancelled(at(12), LOCAL)],
        [discharged(at(13), LOCAL)],
    )
    traced = patient_event("referral", "r1", at(18), NHS, to_service="lcc-reablement")
    traced |= {"status": "new"}

    changes = worker.fold(traced, link(LOCAL, traced))
    arrived = worker.fold(*changes.moved)  # back from the events topic

    assert arrived.refusals == []
    assert state(worker).in_services == {}
    (stay,) = state(worker).stays
    assert stay.ended_at == LEFT
