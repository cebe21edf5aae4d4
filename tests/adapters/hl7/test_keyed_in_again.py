"""A discharge, admission or transfer cancelled (A13, A11, A12) and keyed in again at the same
time, so under the same event id, takes effect again; the messages delivered again, wherever
after their first delivery, or the whole feed replayed, leave the state as it was.

Messages are checked as the listener checks them, validated as the validator does and folded by
the tracker batch after batch (`tests/services/test_batch.Worker`).
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from flowsight.adapters.hl7.check import Checker
from flowsight.adapters.hl7.mapping import Mapped, map_message
from flowsight.adapters.profile import LocationRule, MappingProfile
from flowsight.services.journey import JourneyState, replay
from tests.adapters.hl7.test_event_ids_over_a_visit import ARRIVED, CONTEXT, sent, validated, visit
from tests.adapters.hl7.test_mapping import LOCATIONS, PID, message, msh, pv1
from tests.services.test_batch import SERVICES, Worker

PROFILE = MappingProfile(
    organisation="RR8",
    default_service="lth-wards",
    locations=[
        LocationRule(point_of_care="LGI", service="lth-wards", unit="room"),
        LocationRule(point_of_care="TOCH", service="lth-toc-hub"),
    ],
)
HOME = {"discharged": "20261123150000", "destination": "19"}
CARE_HOME = HOME | {"destination": "54"}

ADMITTED = sent("A01", "M1", f"EVN|A01|{ARRIVED}||||{ARRIVED}", visit("I", "LGI^WARD7^B1"))
DISCHARGED = sent("A03", "M2", "EVN|A03|20261123150500", visit("I", "LGI^WARD7", **HOME))
# The A13 names the discharge by its PV1-45 (and EVN-6); its EVN-2 is when it was keyed in.
CANCELLED = sent(
    "A13", "M3", "EVN|A13|20261123153000||||20261123150000", visit("I", "LGI^WARD7", **HOME)
)
# The discharge keyed in again, the same time: the same event id as the cancelled one.
AGAIN = sent("A03", "M4", "EVN|A03|20261123160000", visit("I", "LGI^WARD7", **HOME))
FEED = [ADMITTED, DISCHARGED, CANCELLED, AGAIN]


def events_of(*messages: bytes) -> list[dict[str, Any]]:
    checker = Checker("RR8", PROFILE, CONTEXT, frozenset({"P"}))
    outcomes = [outcome for raw in messages for outcome in checker.check_bytes(raw)]
    assert all(outcome.ack == "AA" for outcome in outcomes), outcomes
    return [validated(event) for outcome in outcomes for event in outcome.events]


def folded(*batches: list[bytes]) -> tuple[Worker, list[str]]:
    """The tracker after folding each batch of messages in turn, and what it refused."""
    worker, refused = Worker(), []
    for batch in batches:
        changes = worker.fold(*events_of(*batch))
        refused += [refusal.rejected.reason for refusal in changes.refusals]
    return worker, refused


def patient(worker: Worker) -> JourneyState:
    ((pseudonym, events),) = worker.journeys.items()
    return replay(pseudonym, events, SERVICES)


def test_a_discharge_cancelled_and_keyed_in_again_at_the_same_time_discharges_the_patient() -> None:
    worker, refused = folded([ADMITTED, DISCHARGED], [CANCELLED])
    assert patient(worker).in_services == {"lth-wards": "2026-11-23T08:00:00.000000Z"}

    changes = worker.fold(*events_of(AGAIN))

    assert changes.outcomes == {("discharge", "applied"): 1}
    assert refused == [] and changes.refusals == []
    state = patient(worker)
    assert state.in_services == {}
    (stay,) = state.stays
    assert (stay.ended_at, stay.destination) == ("2026-11-23T15:00:00.000000Z", "usual_residence")


def test_a_discharge_keyed_in_again_with_another_destination_is_discharged_there() -> None:
    corrected = sent("A03", "M4", "EVN|A03|20261123160000", visit("I", "LGI^WARD7", **CARE_HOME))

    worker, refused = folded([ADMITTED, DISCHARGED], [CANCELLED], [corrected])

    assert refused == []
    (stay,) = patient(worker).stays
    assert (stay.ended_at, stay.destination) == ("2026-11-23T15:00:00.000000Z", "care_home_nursing")


def test_the_first_a03_delivered_again_after_its_a13_leaves_the_patient_in_the_bed() -> None:
    # Kafka's at-least-once delivery, or the validator reading its topic again after a crash:
    # the same A03, the same EVN-2, after the cancel. It is not the discharge keyed in again.
    worker, refused = folded([ADMITTED, DISCHARGED, CANCELLED], [DISCHARGED], [CANCELLED])

    assert refused == []
    assert set(patient(worker).in_services) == {"lth-wards"}


def test_a_discharge_cancelled_a_second_time_is_undone_and_a_third_issue_discharges() -> None:
    cancelled_again = sent(
        "A13", "M5", "EVN|A13|20261123163000||||20261123150000", visit("I", "LGI^WARD7", **HOME)
    )
    third = sent("A03", "M6", "EVN|A03|20261123170000", visit("I", "LGI^WARD7", **CARE_HOME))

    worker, refused = folded(FEED, [cancelled_again])
    assert set(patient(worker).in_services) == {"lth-wards"}

    worker.fold(*events_of(third))
    assert refused == []
    (stay,) = patient(worker).stays
    assert stay.destination == "care_home_nursing"


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_messages_delivered_again_anywhere_after_their_first_delivery_change_nothing(
    data: st.DataObject,
) -> None:
    expected = patient(folded(FEED)[0])
    arrivals = list(FEED)
    for again in data.draw(st.lists(st.sampled_from(FEED), max_size=6)):
        first = arrivals.index(again)
        arrivals.insert(data.draw(st.integers(first + 1, len(arrivals))), again)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(arrivals)), max_size=3)))
    batches = [arrivals[start:end] for start, end in pairwise([0, *cuts, len(arrivals)])]

    worker, refused = folded(*batches)
    assert refused == []
    assert patient(worker) == expected
    # A replay of the whole topic, onto the journeys already stored: nothing changes either.
    worker.fold(*events_of(*arrivals))
    assert patient(worker) == expected
    assert expected.in_services == {} and len(expected.stays) == 1


def test_an_admission_cancelled_and_keyed_in_again_admits_the_patient() -> None:
    cancelled = sent(
        "A11", "M2", f"EVN|A11|20261123083000||||{ARRIVED}", visit("I", "LGI^WARD7^B1")
    )
    again = sent("A01", "M3", f"EVN|A01|20261123090000||||{ARRIVED}", visit("I", "LGI^WARD7^B1"))

    worker, refused = folded([ADMITTED], [cancelled])
    assert patient(worker).in_services == {}
    worker.fold(*events_of(again))

    assert refused == []
    assert patient(worker).in_services == {"lth-wards": "2026-11-23T08:00:00.000000Z"}


def test_a_transfer_cancelled_and_keyed_in_again_moves_the_patient() -> None:
    moved = visit("I", "TOCH^R1", "LGI^WARD7^B1")
    transfer = sent("A02", "M2", "EVN|A02|20261123100500||||20261123100000", moved)
    cancelled = sent(
        "A12", "M3", "EVN|A12|20261123103000||||20261123100000", visit("I", "LGI^WARD7^B1")
    )
    again = sent("A02", "M4", "EVN|A02|20261123110000||||20261123100000", moved)

    worker, refused = folded([ADMITTED, transfer], [cancelled])
    assert set(patient(worker).in_services) == {"lth-wards"}
    worker.fold(*events_of(again))

    assert refused == []
    assert set(patient(worker).in_services) == {"lth-toc-hub"}


def test_an_evn2_that_is_not_a_time_leaves_the_discharge_published_without_recorded_at() -> None:
    segments = (msh("A03"), "EVN|A03|yesterday", PID, pv1(f3="WARD7", f45="20261123150000"))
    mapped = map_message(message(*segments), organisation="RR8", locations=LOCATIONS)

    assert isinstance(mapped, Mapped), mapped
    (event,) = mapped.events
    assert event["event_type"] == "discharge" and "recorded_at" not in event
    assert any(warning.startswith("EVN-2") for warning in mapped.warnings)
