"""One patient known first by the source's local id, then by their NHS number as well.

The batches are folded as the tracker folds them, and the events a batch moves on are folded
in the next one, as they come back from the events topic.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flowsight.services.identities import MOVED_FROM, link
from flowsight.services.journey import Event
from flowsight.services.retention import select_purged
from tests.services.test_batch import Worker, admission, discharge, patient_event

LOCAL, NHS = "1" * 64, "9" * 64  # the pseudonyms of the MRN and of the NHS number
ADMITTED, DISCHARGED = "2026-05-01T10:00:00.000000Z", "2026-05-11T10:00:00.000000Z"


def linked_discharge() -> tuple[Event, Event]:
    """The discharge that names the NHS number and the MRN, and the link the validator sends."""
    event = discharge("d1", DISCHARGED, NHS)
    return event, link(LOCAL, event)


def test_a_link_moves_the_local_journey_to_the_nhs_pseudonym_and_frees_the_bed() -> None:
    worker = Worker()
    worker.fold(admission("a1", ADMITTED, LOCAL))
    event, linking = linked_discharge()
    worker.fold(event)  # ten days later: beyond the lateness window of what it moves

    changes = worker.fold(linking)

    assert changes.moved == [{**admission("a1", ADMITTED, NHS), MOVED_FROM: LOCAL}]
    assert worker.journeys[LOCAL] == [linking], "the link is kept where the journey was"
    # The local pseudonym's rows leave the read model: its state is now empty.
    (emptied,) = changes.states
    (was,) = changes.before
    assert emptied.pseudonym == LOCAL and not emptied.stays and not emptied.in_services
    assert was.in_services == {"lth-wards": ADMITTED}
    assert changes.since == ADMITTED

    arrived = worker.fold(*changes.moved)  # back from the events topic

    assert not arrived.refusals, "a moved event is never too late"
    (state,) = arrived.states
    assert state.pseudonym == NHS and state.in_services == {}
    (stay,) = state.stays
    assert (stay.started_at, stay.ended_at) == (ADMITTED, DISCHARGED)
    assert arrived.outcomes == {("admission", "applied"): 1}


def test_a_later_event_with_the_local_id_alone_moves_on_to_the_nhs_pseudonym() -> None:
    worker = Worker()
    worker.fold(admission("a1", ADMITTED, LOCAL))
    event, linking = linked_discharge()
    worker.fold(event, linking)
    later = patient_event("referral", "r1", "2026-05-12T09:00:00.000000Z", LOCAL)

    changes = worker.fold(later)

    assert changes.moved == [{**later, "pseudonym": NHS, MOVED_FROM: LOCAL}]
    assert (changes.states, changes.journeys) == ([], {})
    assert changes.outcomes == {("referral", "moved"): 1}


def test_events_before_their_link_in_the_same_batch_move_and_nothing_is_folded_locally() -> None:
    worker = Worker()
    event, linking = linked_discharge()

    changes = worker.fold(admission("a1", ADMITTED, LOCAL), event, linking)

    assert changes.moved == [{**admission("a1", ADMITTED, NHS), MOVED_FROM: LOCAL}]
    assert [state.pseudonym for state in changes.states] == [NHS]
    assert worker.journeys[LOCAL] == [linking]


def test_a_link_sent_again_moves_nothing_twice() -> None:
    worker = Worker()
    worker.fold(admission("a1", ADMITTED, LOCAL))
    event, linking = linked_discharge()
    first = worker.fold(event, linking)
    worker.fold(*first.moved)

    again = worker.fold(linking)
    moved_again = worker.fold(*first.moved)  # a worker that died before committing

    assert (again.moved, again.states, again.journeys) == ([], [], {})
    assert again.outcomes == {("link", "duplicate"): 1}
    assert moved_again.outcomes == {("admission", "duplicate"): 1}
    assert moved_again.states == []


def test_a_link_for_a_patient_never_seen_by_the_local_id_alone_is_only_kept() -> None:
    worker = Worker()
    event, linking = linked_discharge()

    changes = worker.fold(event, linking)

    assert changes.moved == []
    assert [state.pseudonym for state in changes.states] == [NHS]
    assert worker.journeys[LOCAL] == [linking]


def test_a_link_is_purged_like_a_journey_once_older_than_the_retention() -> None:
    _, linking = linked_discharge()
    journeys = [(LOCAL, [linking])]
    linked_at = datetime(2026, 5, 11, 10, tzinfo=UTC)

    kept = select_purged(journeys, linked_at + timedelta(days=30), timedelta(days=365))
    purged = select_purged(journeys, linked_at + timedelta(days=366), timedelta(days=365))

    assert (kept.purge, purged.purge) == ([], [LOCAL])


def test_a_malformed_link_is_refused_and_the_batch_goes_on() -> None:
    worker = Worker()
    broken = {"event_type": "link", "pseudonym": LOCAL, "source": "RR8/pas", "event_id": "x"}

    changes = worker.fold(["not", "an", "event"], broken, admission("a1", ADMITTED, NHS))  # type: ignore[arg-type]

    assert [refusal.position for refusal in changes.refusals] == [0, 1]
    assert "no pseudonym to move to" in changes.refusals[1].rejected.message
    assert [state.pseudonym for state in changes.states] == [NHS]
    assert LOCAL not in worker.journeys
