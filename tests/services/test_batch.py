"""One batch of validated events, folded as the worker folds it: what it changes and refuses."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from flowsight.adapters.catalogue import load_catalogue
from flowsight.services.batch import BatchChanges, apply_batch
from flowsight.services.journey import Event, ServiceMap
from flowsight.settings import DEFAULT_CATALOGUE

SERVICES = ServiceMap.of(load_catalogue(DEFAULT_CATALOGUE))
LATENESS = timedelta(days=7)
ANN, BOB = "a" * 64, "b" * 64


def patient_event(
    event_type: str, event_id: str, at: str, pseudonym: str = ANN, **fields: Any
) -> Event:
    return {
        "event_id": event_id,
        "event_type": event_type,
        "source": "RR8/pas",
        "occurred_at": at,
        "service": "lth-wards",
        "episode_id": "EP-1",
        "pseudonym": pseudonym,
        **fields,
    }


def admission(event_id: str, at: str, pseudonym: str = ANN) -> Event:
    return patient_event("admission", event_id, at, pseudonym, admission_method="emergency")


def discharge(event_id: str, at: str, pseudonym: str = ANN) -> Event:
    return patient_event("discharge", event_id, at, pseudonym, destination="usual_residence")


def capacity(at: str, open_beds: int, service: str = "lth-wards") -> Event:
    return {
        "event_id": f"cap-{at}",
        "event_type": "capacity",
        "source": "RR8/pas",
        "occurred_at": at,
        "service": service,
        "open": open_beds,
        "total": 40,
        "unit": "beds",
    }


class Worker:
    """The tracker's stores between batches: journeys by patient, latest capacity by service."""

    def __init__(self) -> None:
        self.journeys: dict[str, list[Event]] = {}
        self.capacity: dict[str, Event] = {}

    def fold(self, *events: Event) -> BatchChanges:
        changes = apply_batch(
            list(events), self.journeys.get, self.capacity.get, LATENESS, SERVICES
        )
        self.journeys.update((p, j.to_stored()) for p, j in changes.journeys.items())
        self.capacity.update(changes.capacity)
        return changes


def test_each_changed_patient_is_replayed_once_with_all_their_events_of_the_batch() -> None:
    changes = Worker().fold(
        admission("a1", "2026-05-01T10:00:00+00:00"),
        admission("b1", "2026-05-01T11:00:00+00:00", BOB),
        discharge("a2", "2026-05-03T10:00:00+00:00"),
    )
    by_patient = {state.pseudonym: state for state in changes.states}
    assert sorted(by_patient) == [ANN, BOB]
    (stay,) = by_patient[ANN].stays
    assert (stay.started_at, stay.ended_at) == (
        "2026-05-01T10:00:00+00:00",
        "2026-05-03T10:00:00+00:00",
    )
    assert by_patient[BOB].in_services == {"lth-wards": "2026-05-01T11:00:00+00:00"}
    assert changes.outcomes == {("admission", "applied"): 2, ("discharge", "applied"): 1}
    assert changes.since == "2026-05-01T10:00:00+00:00"


def test_a_duplicate_is_counted_and_changes_nothing_in_the_same_batch_or_a_later_one() -> None:
    worker = Worker()
    first = worker.fold(
        admission("a1", "2026-05-01T10:00:00+00:00"),
        admission("a1", "2026-05-01T10:00:00+00:00"),
    )
    assert worker.journeys[ANN] == [admission("a1", "2026-05-01T10:00:00+00:00")]
    assert first.outcomes == {("admission", "applied"): 1, ("admission", "duplicate"): 1}
    assert not first.refusals

    again = worker.fold(admission("a1", "2026-05-01T10:00:00+00:00"))
    assert again.outcomes == {("admission", "duplicate"): 1}
    assert (again.journeys, again.states, again.since) == ({}, [], None)
    assert not again.refusals


def test_another_event_under_an_id_already_recorded_is_refused_and_the_first_one_kept() -> None:
    worker = Worker()
    worker.fold(discharge("d1", "2026-05-03T10:00:00+00:00"))
    # The sender's numbering restarted: "d1" now names a later discharge, to a care home.
    reused = {
        **discharge("d1", "2026-05-09T16:00:00+00:00"),
        "destination": "care_home_residential",
    }
    changes = worker.fold(reused)

    (refusal,) = changes.refusals
    assert (refusal.position, refusal.rejected.reason) == (0, "event_id_reused")
    assert refusal.rejected.field == "event_id"
    message = refusal.rejected.message
    assert "event_id 'd1' of source RR8/pas" in message
    assert "differ in destination, occurred_at" in message
    assert "the first event was kept" in message
    assert changes.outcomes == {("discharge", "event_id_reused"): 1}
    assert worker.journeys[ANN] == [discharge("d1", "2026-05-03T10:00:00+00:00")]
    assert (changes.journeys, changes.states, changes.since) == ({}, [], None)


def test_an_id_reused_in_one_batch_is_refused_and_the_batch_s_other_events_apply() -> None:
    worker = Worker()
    changes = worker.fold(
        admission("a1", "2026-05-01T10:00:00+00:00"),
        admission("a1", "2026-05-02T10:00:00+00:00"),  # another admission numbered alike
        discharge("a2", "2026-05-03T10:00:00+00:00"),
    )

    assert [(r.position, r.rejected.reason) for r in changes.refusals] == [(1, "event_id_reused")]
    assert changes.outcomes == {
        ("admission", "applied"): 1,
        ("admission", "event_id_reused"): 1,
        ("discharge", "applied"): 1,
    }
    (stay,) = changes.states[0].stays
    assert (stay.started_at, stay.ended_at) == (
        "2026-05-01T10:00:00+00:00",
        "2026-05-03T10:00:00+00:00",
    )


def test_a_reused_id_that_looks_like_an_nhs_number_is_not_quoted_in_the_refusal() -> None:
    worker = Worker()
    worker.fold(admission("943 476 5919", "2026-05-01T10:00:00+00:00"))
    changes = worker.fold(admission("943 476 5919", "2026-05-02T10:00:00+00:00"))

    (refusal,) = changes.refusals
    assert "5919" not in refusal.rejected.message
    assert "[nhs-number?]" in refusal.rejected.message


def test_the_same_event_delivered_again_with_another_correlation_id_is_a_duplicate() -> None:
    worker = Worker()
    worker.fold({**admission("a1", "2026-05-01T10:00:00+00:00"), "correlation_id": "first"})
    again = worker.fold({**admission("a1", "2026-05-01T10:00:00+00:00"), "correlation_id": "retry"})

    assert again.outcomes == {("admission", "duplicate"): 1}
    assert not again.refusals


def test_an_event_older_than_the_lateness_window_is_refused_and_a_late_one_within_it_applies() -> (
    None
):
    worker = Worker()
    worker.fold(admission("a1", "2026-05-10T10:00:00+00:00"))
    changes = worker.fold(
        patient_event(
            "referral",
            "too-late",
            "2026-05-02T09:00:00+00:00",
            to_service="lch-community-beds",
            status="new",
        ),
        patient_event(
            "referral",
            "late",
            "2026-05-04T09:00:00+00:00",
            to_service="lch-community-beds",
            status="new",
        ),
    )
    (refusal,) = changes.refusals
    assert refusal.position == 0
    assert (refusal.rejected.reason, refusal.rejected.field) == ("too_late", "occurred_at")
    assert "2026-05-02T09:00:00+00:00" in refusal.rejected.message
    assert "(7 days)" in refusal.rejected.message
    # An integration team reads whose newer event the refused one was measured against.
    assert "behind the newest event RR8/pas sent for this patient's episode EP-1" in (
        refusal.rejected.message
    )
    assert changes.outcomes == {("referral", "too_late"): 1, ("referral", "applied"): 1}
    assert [e["event_id"] for e in worker.journeys[ANN]] == ["late", "a1"]
    assert changes.since == "2026-05-04T09:00:00+00:00"


def test_a_cancellation_changes_figures_from_the_moment_of_the_event_it_cancels() -> None:
    worker = Worker()
    worker.fold(admission("a1", "2026-05-01T10:00:00+00:00"))
    changes = worker.fold(
        patient_event("cancellation", "c1", "2026-05-03T08:00:00+00:00", cancels_event_id="a1")
    )
    assert changes.since == "2026-05-01T10:00:00+00:00"
    (state,) = changes.states
    assert state.stays == [] and state.in_services == {}


def test_the_latest_capacity_report_wins_whatever_order_they_arrive_in() -> None:
    worker = Worker()
    worker.fold(capacity("2026-05-01T12:00:00+00:00", open_beds=5))

    older = worker.fold(capacity("2026-05-01T08:00:00+00:00", open_beds=9))
    assert older.outcomes == {("capacity", "superseded"): 1}
    assert older.capacity == {}
    # Not the current capacity any more, but still the report in force that morning.
    assert [(row["open"], row["latest"]) for row in older.capacity_rows] == [(9, False)]
    assert worker.capacity["lth-wards"]["open"] == 5

    changes = worker.fold(
        capacity("2026-05-01T14:00:00+00:00", open_beds=2),
        capacity("2026-05-01T13:00:00+00:00", open_beds=7),
    )
    assert changes.outcomes == {("capacity", "applied"): 1, ("capacity", "superseded"): 1}
    assert changes.capacity_rows == [
        {
            "service_id": "lth-wards",
            "open": 2,
            "total": 40,
            "unit": "beds",
            "as_of": datetime.fromisoformat("2026-05-01T14:00:00+00:00"),
            "latest": True,
        },
        {
            "service_id": "lth-wards",
            "open": 7,
            "total": 40,
            "unit": "beds",
            "as_of": datetime.fromisoformat("2026-05-01T13:00:00+00:00"),
            "latest": False,
        },
    ]
    assert changes.states == [] and changes.since is None


def test_a_malformed_event_is_refused_as_unprocessable_and_the_rest_of_the_batch_applies() -> None:
    broken = admission("a1", "2026-05-01T10:00:00+00:00")
    del broken["source"]
    changes = Worker().fold(broken, admission("b1", "2026-05-01T11:00:00+00:00", BOB))
    (refusal,) = changes.refusals
    assert refusal.position == 0
    assert refusal.rejected.reason == "unprocessable"
    assert isinstance(refusal.error, KeyError)
    assert changes.outcomes == {("admission", "failed"): 1, ("admission", "applied"): 1}
    assert [state.pseudonym for state in changes.states] == [BOB]


def test_an_event_recorded_but_not_replayable_is_refused_and_the_patients_others_apply() -> None:
    # An admission naming no service is recorded (it has what recording needs) but its replay
    # fails: it must be refused on its own, not take the patient's batch (or the agent) down.
    worker = Worker()
    no_service = admission("a2", "2026-05-01T12:00:00+00:00")
    del no_service["service"]
    changes = worker.fold(
        admission("a1", "2026-05-01T10:00:00+00:00"),
        no_service,
        discharge("a3", "2026-05-02T10:00:00+00:00"),
        admission("b1", "2026-05-01T11:00:00+00:00", BOB),
    )
    (refusal,) = changes.refusals
    assert refusal.position == 1
    assert refusal.rejected.reason == "unprocessable"
    assert isinstance(refusal.error, KeyError)
    assert +changes.outcomes == {("admission", "applied"): 2, ("admission", "failed"): 1,
                                 ("discharge", "applied"): 1}  # fmt: skip
    by_patient = {state.pseudonym: state for state in changes.states}
    (stay,) = by_patient[ANN].stays
    assert stay.ended_at == "2026-05-02T10:00:00+00:00"
    assert by_patient[BOB].in_services == {"lth-wards": "2026-05-01T11:00:00+00:00"}
    assert [e["event_id"] for e in worker.journeys[ANN]] == ["a1", "a3"]
    assert len(changes.before) == len(changes.states)


def test_a_patient_whose_only_event_cannot_be_replayed_is_left_unchanged() -> None:
    worker = Worker()
    worker.fold(admission("a1", "2026-05-01T10:00:00+00:00"))
    no_service = discharge("a2", "2026-05-02T10:00:00+00:00")
    del no_service["service"]
    changes = worker.fold(no_service)
    assert [r.position for r in changes.refusals] == [0]
    assert changes.states == [] and changes.journeys == {}
    assert [e["event_id"] for e in worker.journeys[ANN]] == ["a1"]


def test_the_stored_journey_is_not_changed_by_folding_a_batch() -> None:
    stored = [admission("a1", "2026-05-01T10:00:00+00:00")]
    apply_batch(
        [discharge("a2", "2026-05-02T10:00:00+00:00")],
        {ANN: stored}.get,
        lambda _: None,
        LATENESS,
        SERVICES,
    )
    assert stored == [admission("a1", "2026-05-01T10:00:00+00:00")]


def test_the_same_events_in_any_order_give_the_same_journeys_and_capacity() -> None:
    events = [
        admission("a1", "2026-05-01T10:00:00+00:00"),
        patient_event(
            "assessment",
            "a2",
            "2026-05-02T10:00:00+00:00",
            kind="ctr_review",
            status="completed",
            meets_criteria_to_reside=False,
            delay_reason="p2_awaiting_bed",
        ),
        discharge("a3", "2026-05-04T10:00:00+00:00"),
        admission("b1", "2026-05-02T10:00:00+00:00", BOB),
        admission("b1", "2026-05-02T10:00:00+00:00", BOB),
        capacity("2026-05-02T12:00:00+00:00", open_beds=4),
        capacity("2026-05-03T12:00:00+00:00", open_beds=3),
    ]
    in_order = Worker().fold(*events)
    for seed in range(20):
        shuffled = events[:]
        random.Random(seed).shuffle(shuffled)
        changes = Worker().fold(*shuffled)
        assert sorted(changes.states, key=lambda s: s.pseudonym) == sorted(
            in_order.states, key=lambda s: s.pseudonym
        )
        latest = [row for row in changes.capacity_rows if row["latest"]]
        assert latest == [row for row in in_order.capacity_rows if row["latest"]]
        assert sorted(row["as_of"] for row in changes.capacity_rows) == sorted(
            row["as_of"] for row in in_order.capacity_rows
        )
        assert changes.since == in_order.since
