"""A patient's journey (SPEC section 5): rebuilt in event-time order, whatever the arrival order."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from flowsight.services.journey import JourneyState, QueueEntry, replay
from flowsight.services.recorded import Journey, Recorded
from flowsight.services.timestamps import utc_timestamp

PSEUDONYM = "a" * 64
BASE = datetime(2025, 3, 10, 8, 0, tzinfo=UTC)
LATENESS = timedelta(days=7)

# Who publishes for each service of the default catalogue.
SOURCES = {
    "lth-ed": "RR8/symphony",
    "lth-wards": "RR8/pas",
    "lth-toc-hub": "RR8/pas",
    "lch-community-beds": "RY6/systmone",
    "lcc-reablement": "LCC/mosaic",
}

Event = dict[str, Any]


def at(hours: float) -> str:
    """A timestamp `hours` after BASE, in the form the validator writes."""
    return utc_timestamp(BASE + timedelta(hours=hours))


def event(
    event_type: str,
    event_id: str,
    hours: float,
    service: str,
    source: str | None = None,
    **extra: Any,
) -> Event:
    """A validated, pseudonymised event as the journey receives it from the events topic."""
    return {
        "event_id": event_id,
        "schema_version": "1",
        "event_type": event_type,
        "source": source or SOURCES[service],
        "occurred_at": at(hours),
        "service": service,
        "episode_id": f"EP-{service}",
        "pseudonym": PSEUDONYM,
        **extra,
    }


def referral(
    event_id: str,
    hours: float,
    to: str,
    status: str = "new",
    service: str = "lth-toc-hub",
    **extra: Any,
) -> Event:
    return event("referral", event_id, hours, service, to_service=to, status=status, **extra)


def admission(event_id: str, hours: float, service: str) -> Event:
    return event("admission", event_id, hours, service, admission_method="emergency")


def discharge(event_id: str, hours: float, service: str) -> Event:
    return event("discharge", event_id, hours, service, destination="usual_residence")


def transfer(event_id: str, hours: float, from_service: str, to_service: str) -> Event:
    return event(
        "transfer", event_id, hours, from_service, from_service=from_service, to_service=to_service
    )


def cancellation(event_id: str, hours: float, cancelled: Event) -> Event:
    return event(
        "cancellation",
        event_id,
        hours,
        cancelled["service"],
        source=cancelled["source"],
        cancels_event_id=cancelled["event_id"],
    )


def state_after(*events: Event) -> JourneyState:
    """The journey after `events` arrive in the given order, each one applied."""
    journey = Journey()
    for each in events:
        assert journey.record(each, LATENESS) is Recorded.APPLIED, each
    return replay(PSEUDONYM, journey.events)


# -- duplicates --------------------------------------------------------------------------------


def test_a_redelivered_event_is_absorbed() -> None:
    admitted = admission("adm-1", 0, "lth-wards")
    journey = Journey()

    assert journey.record(admitted, LATENESS) is Recorded.APPLIED
    assert journey.record(dict(admitted), LATENESS) is Recorded.DUPLICATE
    assert len(journey.events) == 1


def test_another_event_under_a_recorded_id_is_an_id_reused_and_the_first_one_stands() -> None:
    journey = Journey()
    journey.record(admission("adm-1", 0, "lth-wards"), LATENESS)

    # Not the same event again (a duplicate) but another one numbered alike: not recorded.
    assert journey.record(discharge("adm-1", 5, "lth-wards"), LATENESS) is Recorded.ID_REUSED
    assert journey.record(admission("adm-1", 2, "lth-wards"), LATENESS) is Recorded.ID_REUSED
    assert journey.events == [admission("adm-1", 0, "lth-wards")]
    assert replay(PSEUDONYM, journey.events).in_services == {"lth-wards": at(0)}


def test_the_same_event_id_from_another_source_is_a_different_event() -> None:
    journey = Journey()
    journey.record(admission("1001", 0, "lth-wards"), LATENESS)

    assert journey.record(admission("1001", 1, "lch-community-beds"), LATENESS) is Recorded.APPLIED
    assert set(replay(PSEUDONYM, journey.events).in_services) == {"lth-wards", "lch-community-beds"}


def test_duplicates_are_still_recognised_after_the_journey_is_stored_and_reloaded() -> None:
    journey = Journey()
    journey.record(admission("adm-1", 0, "lth-wards"), LATENESS)
    reloaded = Journey.from_stored(json.loads(json.dumps(journey.to_stored())))

    assert reloaded.record(admission("adm-1", 0, "lth-wards"), LATENESS) is Recorded.DUPLICATE


# The lateness window (per source episode) is tested in test_lateness.py.


# -- queues -------------------------------------------------------------------------------------


def test_a_new_referral_opens_a_queue_entry_for_the_service_referred_to() -> None:
    state = state_after(
        referral("ref-1", 2, to="lcc-reablement", pathway="P1", priority="urgent"),
    )

    assert state.queues == {
        "lcc-reablement": QueueEntry(
            service="lcc-reablement",
            pseudonym=PSEUDONYM,
            referred_at=at(2),
            referring_service="lth-toc-hub",
            pathway="P1",
            priority="urgent",
        )
    }
    assert state.in_services == {}


def test_an_accepted_referral_alone_opens_a_queue_entry() -> None:
    state = state_after(referral("ref-1", 2, to="lcc-reablement", status="accepted"))

    assert set(state.queues) == {"lcc-reablement"}
    assert state.queues["lcc-reablement"].referred_at == at(2)


def test_accepting_a_referral_keeps_the_patients_place_in_the_queue() -> None:
    state = state_after(
        referral("ref-1", 2, to="lcc-reablement", pathway="P1"),
        referral("ref-2", 30, to="lcc-reablement", status="accepted", service="lcc-reablement"),
    )

    entry = state.queues["lcc-reablement"]
    assert entry.referred_at == at(2)
    assert entry.referring_service == "lth-toc-hub"
    assert entry.pathway == "P1"


def test_acceptance_arriving_before_the_referral_still_keeps_the_original_referred_at() -> None:
    state = state_after(
        referral("ref-2", 30, to="lcc-reablement", status="accepted", service="lcc-reablement"),
        referral("ref-1", 2, to="lcc-reablement"),
    )

    assert state.queues["lcc-reablement"].referred_at == at(2)


def test_a_declined_or_withdrawn_referral_leaves_the_queue() -> None:
    for status in ("declined", "withdrawn"):
        state = state_after(
            referral("ref-1", 2, to="lcc-reablement"),
            referral("ref-2", 4, to="lcc-reablement", status=status),
        )
        assert state.queues == {}, status


def test_admission_to_the_service_ends_the_wait() -> None:
    state = state_after(
        referral("ref-1", 2, to="lch-community-beds"),
        admission("adm-1", 26, "lch-community-beds"),
    )

    assert state.queues == {}
    assert state.in_services == {"lch-community-beds": at(26)}


def test_admission_elsewhere_does_not_end_the_wait() -> None:
    state = state_after(
        referral("ref-1", 2, to="lch-community-beds"),
        admission("adm-1", 3, "lth-wards"),
    )

    assert set(state.queues) == {"lch-community-beds"}


def test_transfer_into_the_service_ends_the_wait_and_moves_the_patient() -> None:
    state = state_after(
        admission("adm-1", 0, "lth-wards"),
        referral("ref-1", 2, to="lch-community-beds"),
        transfer("trf-1", 50, "lth-wards", "lch-community-beds"),
    )

    assert state.queues == {}
    assert state.in_services == {"lch-community-beds": at(50)}


def test_a_referral_to_a_service_the_patient_is_already_in_does_not_queue() -> None:
    state = state_after(
        admission("adm-1", 0, "lch-community-beds"),
        referral("ref-1", 2, to="lch-community-beds"),
    )

    assert state.queues == {}


def test_after_discharge_a_new_referral_queues_again() -> None:
    state = state_after(
        admission("adm-1", 0, "lch-community-beds"),
        discharge("dis-1", 24, "lch-community-beds"),
        referral("ref-1", 48, to="lch-community-beds"),
    )

    assert state.in_services == {}
    assert state.queues["lch-community-beds"].referred_at == at(48)


def test_queues_for_different_services_are_independent() -> None:
    state = state_after(
        referral("ref-1", 2, to="lcc-reablement"),
        referral("ref-2", 3, to="lch-community-beds"),
        referral("ref-3", 4, to="lcc-reablement", status="withdrawn"),
    )

    assert set(state.queues) == {"lch-community-beds"}


def test_a_discharge_leaves_the_service_but_not_other_queues() -> None:
    state = state_after(
        admission("adm-1", 0, "lth-wards"),
        referral("ref-1", 2, to="lcc-reablement"),
        discharge("dis-1", 5, "lth-wards"),
    )

    assert state.in_services == {}
    assert set(state.queues) == {"lcc-reablement"}


def test_a_referral_at_the_same_instant_as_the_admission_is_not_left_waiting() -> None:
    # A source that stamps "referred and admitted" with one time, sending the admission first.
    state = state_after(
        admission("adm-1", 5, "lch-community-beds"),
        referral("ref-1", 5, to="lch-community-beds"),
    )

    assert state.queues == {}
    assert set(state.in_services) == {"lch-community-beds"}


# -- cancellations ------------------------------------------------------------------------------


def test_a_cancelled_admission_puts_the_patient_back_in_the_queue() -> None:
    admitted = admission("adm-1", 26, "lch-community-beds")
    state = state_after(
        referral("ref-1", 2, to="lch-community-beds"),
        admitted,
        cancellation("cxl-1", 27, admitted),
    )

    assert state.in_services == {}
    assert state.queues["lch-community-beds"].referred_at == at(2)


def test_a_cancellation_that_arrives_before_its_event_still_cancels_it() -> None:
    admitted = admission("adm-1", 26, "lch-community-beds")
    state = state_after(
        cancellation("cxl-1", 27, admitted),
        referral("ref-1", 2, to="lch-community-beds"),
        admitted,
    )

    assert state.in_services == {}
    assert set(state.queues) == {"lch-community-beds"}


def test_a_cancelled_referral_never_queued() -> None:
    referred = referral("ref-1", 2, to="lcc-reablement")

    assert state_after(referred, cancellation("cxl-1", 3, referred)).queues == {}


def test_a_cancelled_discharge_leaves_the_patient_in_the_service() -> None:
    discharged = discharge("dis-1", 24, "lth-wards")
    state = state_after(
        admission("adm-1", 0, "lth-wards"), discharged, cancellation("cxl-1", 25, discharged)
    )

    assert state.in_services == {"lth-wards": at(0)}


def test_a_cancelled_transfer_leaves_the_patient_where_they_were() -> None:
    moved = transfer("trf-1", 50, "lth-wards", "lch-community-beds")
    state = state_after(
        admission("adm-1", 0, "lth-wards"),
        referral("ref-1", 2, to="lch-community-beds"),
        moved,
        cancellation("cxl-1", 51, moved),
    )

    assert state.in_services == {"lth-wards": at(0)}
    assert set(state.queues) == {"lch-community-beds"}


def test_a_cancellation_only_retracts_an_event_of_its_own_source() -> None:
    admitted = admission("1001", 0, "lth-wards")  # RR8/pas
    other_source = {**cancellation("cxl-1", 1, admitted), "source": "RY6/systmone"}

    assert state_after(admitted, other_source).in_services == {"lth-wards": at(0)}


def test_a_cancellation_of_an_unknown_event_changes_nothing_and_is_shown_as_an_anomaly() -> None:
    """A cancellation naming an event the journey does not hold (refused, never sent, or not
    here yet) retracts nothing; it is shown until its event comes, not kept without a trace."""
    admitted = admission("adm-1", 0, "lth-wards")
    ghost = admission("adm-404", 2, "lth-wards")
    unmatched = cancellation("cxl-1", 3, ghost)

    state = state_after(admitted, unmatched)
    assert (state.in_services, state.stays) == (
        state_after(admitted).in_services,
        state_after(admitted).stays,
    )
    assert [(a.kind, a.event_id) for a in state.anomalies] == [
        ("cancellation_of_unknown_event", "cxl-1")
    ]
    # Its event arrives late: retracted, and no anomaly left.
    assert state_after(admitted, unmatched, ghost) == state_after(admitted)


def test_a_cancel_naming_every_id_its_event_may_carry_raises_no_anomaly_for_the_others() -> None:
    """An HL7 A11 names the admission by PV1-44 and by EVN-6 when the two differ: one matches,
    the other can never; it was an anomaly on every such cancel. A cancellation of an unknown
    event sent at another moment still is one."""
    admitted = admission("V:admission:T1", 0, "lth-wards")
    by_pv1_44 = cancellation("V:admission:T1:cancelled", 3, admitted)
    never_sent = admission("V:admission:T2", 0, "lth-wards")
    by_evn_6 = cancellation("V:admission:T2:cancelled", 3, never_sent)

    state = state_after(admitted, by_pv1_44, by_evn_6)

    assert state.in_services == {} and state.anomalies == []
    later = cancellation("V:admission:T3:cancelled", 4, admission("V:admission:T3", 0, "lth-wards"))
    assert [a.event_id for a in state_after(admitted, by_pv1_44, later).anomalies] == [
        "V:admission:T3:cancelled"
    ]


# -- any arrival order, any duplicates: the same journey ----------------------------------------

SERVICES = ("lth-wards", "lch-community-beds", "lcc-reablement")
STATUSES = ("new", "accepted", "declined", "withdrawn")
PATHWAYS = (None, "P1", "P2", "P3")
KINDS = ("referral", "admission", "discharge", "transfer", "cancellation")
# Gaps of up to 12 hours keep 12 events well inside the 7-day window; 0 makes same-time ties.
GAP_MINUTES = (0, 0, 1, 30, 90, 240, 720)


class Choices:
    """Picks from small lists by peeling digits off one drawn integer.

    One draw per event instead of six keeps 200 examples well under a second; the integer
    still shrinks towards the first choice of every list.
    """

    def __init__(self, number: int) -> None:
        self.number = number

    def pick(self, options: tuple[Any, ...] | list[Any]) -> Any:
        self.number, index = divmod(self.number, len(options))
        return options[index]


@st.composite
def journeys(draw: st.DrawFn) -> list[Event]:
    """A patient's events in time order, within the lateness window; ties allowed."""
    events: list[Event] = []
    minutes = 0
    for number, drawn in enumerate(draw(st.lists(st.integers(0, 2**32), min_size=1, max_size=12))):
        choose = Choices(drawn)
        minutes += choose.pick(GAP_MINUTES)
        hours = minutes / 60
        event_id = f"e{number}"
        kind = choose.pick(KINDS if events else KINDS[:-1])
        service = choose.pick(SERVICES)
        if kind == "referral":
            events.append(
                referral(
                    event_id,
                    hours,
                    to=service,
                    status=choose.pick(STATUSES),
                    service=choose.pick(SERVICES),
                    pathway=choose.pick(PATHWAYS),
                )
            )
        elif kind == "admission":
            events.append(admission(event_id, hours, service))
        elif kind == "discharge":
            events.append(discharge(event_id, hours, service))
        elif kind == "transfer":
            to = choose.pick([s for s in SERVICES if s != service])
            events.append(transfer(event_id, hours, service, to))
        else:
            events.append(cancellation(event_id, hours, choose.pick(events)))
    return events


@settings(max_examples=200, deadline=None)
@given(events=journeys(), arrival=st.randoms(use_true_random=True))
def test_any_arrival_order_with_duplicates_gives_the_same_journey(
    events: list[Event], arrival: random.Random
) -> None:
    in_order = Journey()
    for each in events:
        assert in_order.record(each, LATENESS) is Recorded.APPLIED
    expected = replay(PSEUDONYM, in_order.events)

    redelivered = [dict(e) for e in arrival.choices(events, k=arrival.randint(0, len(events)))]
    arrivals = events + redelivered
    arrival.shuffle(arrivals)
    shuffled = Journey()
    outcomes = [shuffled.record(each, LATENESS) for each in arrivals]

    assert outcomes.count(Recorded.APPLIED) == len(events)
    assert Recorded.TOO_LATE not in outcomes
    assert replay(PSEUDONYM, shuffled.events) == expected
    if len({e["occurred_at"] for e in events}) == len(events):
        # Without ties, "in order" has only one meaning: replaying the events as generated.
        assert expected == replay(PSEUDONYM, events)


def test_cancelling_a_cancellation_restores_the_event() -> None:
    waiting = referral("ref-1", 0, to="lcc-reablement")
    admitted = admission("adm-1", 1, "lcc-reablement")
    cancelled = cancellation("can-1", 2, admitted)
    restored = cancellation("can-2", 3, cancelled)
    assert "lcc-reablement" in state_after(waiting, admitted, cancelled).queues
    assert "lcc-reablement" not in state_after(waiting, admitted, cancelled, restored).queues
    assert "lcc-reablement" in state_after(waiting, admitted, cancelled, restored).in_services
