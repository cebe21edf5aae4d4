"""The tracker agent: a batch of events updates the journeys and capacity, then the sink."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import faust
import orjson
import pytest

from flowsight.services.identities import link
from flowsight.services.journey import JourneyState, ServiceMap
from flowsight.settings import Settings
from flowsight.streams.agents import Backlog
from flowsight.streams.agents.tracker import tracker
from flowsight.streams.dead_letters import DeadLetters
from flowsight.streams.metrics import WorkerMetrics
from tests.streams.conftest import CATALOGUE, ChannelOutlet, raw_topic

ANN = "a" * 64


class RecordingSink:
    """Stands in for the read model: keeps what each batch wrote."""

    def __init__(self) -> None:
        self.writes: list[
            tuple[list[JourneyState], list[dict[str, Any]], list[JourneyState] | None]
        ] = []

    async def write(
        self,
        journeys: Sequence[JourneyState],
        capacity: Iterable[dict[str, Any]] = (),
        *,
        before: Sequence[JourneyState] | None = None,
    ) -> None:
        self.writes.append(
            (list(journeys), list(capacity), None if before is None else list(before))
        )


class Tracker:
    """The tracker on the events topic, with the tables `create_app` gives it."""

    def __init__(self, app: faust.App, settings: Settings, highwater: int | None = None) -> None:
        self.metrics = WorkerMetrics()
        self.backlog = Backlog(lambda tp: highwater)
        self.sink = RecordingSink()
        self.journeys = app.Table("journeys", default=list, key_type=str, use_partitioner=True)
        self.capacity = app.Table("capacity", default=dict, key_type=str, use_partitioner=True)
        dead_letters, moved = app.channel(), app.channel()
        self.dead_letters = aiter(dead_letters)
        self.moved = aiter(moved)  # events sent on under the NHS pseudonym
        self.agent = app.agent(raw_topic(app, settings.events_topic), name="tracker")(
            tracker(
                self.journeys,
                self.capacity,
                self.sink,
                ChannelOutlet(moved),
                DeadLetters(dead_letters, self.metrics),
                self.metrics,
                settings,
                ServiceMap.of(CATALOGUE),
                self.backlog,
            )
        )

    def count(self, event_type: str, outcome: str) -> float:
        labels = {"event_type": event_type, "outcome": outcome}
        value = self.metrics.registry.get_sample_value("flowsight_events_applied_total", labels)
        return value or 0.0


@pytest.fixture
def subject(app: faust.App, settings: Settings) -> Tracker:
    return Tracker(app, settings)


def admission(event_id: str, at: str) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "event_type": "admission",
        "source": "RR8/pas",
        "occurred_at": at,
        "service": "lth-wards",
        "episode_id": "SPELL-1",
        "admission_method": "emergency",
        "pseudonym": ANN,
    }


def capacity(at: str, open_beds: int) -> dict[str, Any]:
    return {
        "event_id": f"bed-state-{at}",
        "event_type": "capacity",
        "source": "RR8/pas",
        "occurred_at": at,
        "service": "lth-wards",
        "open": open_beds,
        "unit": "beds",
    }


async def test_a_batch_updates_the_journeys_table_and_writes_the_patient_to_the_sink(
    subject: Tracker,
) -> None:
    event = admission("adm-1", "2026-05-01T10:00:00+00:00")
    async with subject.agent.test_context() as agent:
        await agent.put(orjson.dumps(event), key=ANN.encode())
        await agent.put(orjson.dumps(event), key=ANN.encode())  # delivered again

    assert subject.journeys[ANN] == [event]
    (first, first_before), (again, _) = [
        (states, before) for states, _, before in subject.sink.writes
    ]
    (state,) = first
    assert state.pseudonym == ANN
    assert state.in_services == {"lth-wards": "2026-05-01T10:00:00+00:00"}
    # The sink is told the patient as the read model holds them: not yet known.
    assert first_before is not None and [s.pseudonym for s in first_before] == [ANN]
    assert first_before[0].in_services == {} and first_before[0].stays == []
    assert again == []
    assert subject.count("admission", "applied") == 1
    assert subject.count("admission", "duplicate") == 1
    # Each event's time from the events topic to the read model is measured once.
    latency = subject.metrics.registry.get_sample_value
    assert latency("flowsight_processing_latency_seconds_count") == 2


async def test_an_older_capacity_report_does_not_replace_the_latest(subject: Tracker) -> None:
    async with subject.agent.test_context() as agent:
        for report in (
            capacity("2026-05-01T12:00:00+00:00", open_beds=5),
            capacity("2026-05-01T08:00:00+00:00", open_beds=9),
        ):
            await agent.put(orjson.dumps(report), key=b"service:lth-wards")

    assert subject.capacity["service:lth-wards"]["open"] == 5
    (_, rows, _), (_, later_rows, _) = subject.sink.writes
    assert [(row["open"], row["latest"]) for row in rows] == [(5, True)]
    # The older report joins the capacity history; it does not become the current capacity.
    assert [(row["open"], row["latest"]) for row in later_rows] == [(9, False)]
    assert subject.count("capacity", "superseded") == 1


async def test_an_unreadable_or_too_late_event_is_dead_lettered_and_the_stream_goes_on(
    subject: Tracker,
) -> None:
    async with subject.agent.test_context() as agent:
        await agent.put(b"not json", key=ANN.encode())
        unreadable = await subject.dead_letters.get(timeout=1)
        await agent.put(orjson.dumps(admission("adm-2", "2026-05-20T10:00:00+00:00")))
        await agent.put(orjson.dumps(admission("adm-1", "2026-05-01T10:00:00+00:00")))
        too_late = await subject.dead_letters.get(timeout=1)

    assert unreadable.value == b"not json"
    assert dict(unreadable.message.headers)["error.reason"] == b"unprocessable"
    assert dict(too_late.message.headers)["error.reason"] == b"too_late"
    assert [e["event_id"] for e in subject.journeys[ANN]] == ["adm-2"]
    assert subject.count("unreadable", "failed") == 1
    assert subject.count("admission", "too_late") == 1


async def test_another_event_under_a_recorded_id_is_dead_lettered_and_counted(
    subject: Tracker,
) -> None:
    first = admission("adm-1", "2026-05-01T10:00:00+00:00")
    reused = admission("adm-1", "2026-05-03T10:00:00+00:00")
    async with subject.agent.test_context() as agent:
        await agent.put(orjson.dumps(first), key=ANN.encode())
        await agent.put(orjson.dumps(first), key=ANN.encode())  # delivered again: a duplicate
        await agent.put(orjson.dumps(reused), key=ANN.encode())
        dead = await subject.dead_letters.get(timeout=1)

    headers = dict(dead.message.headers)
    assert orjson.loads(dead.value) == reused
    assert (headers["error.reason"], headers["error.field"]) == (b"event_id_reused", b"event_id")
    assert b"the first event was kept" in headers["error.message"]
    assert subject.journeys[ANN] == [first]
    assert subject.count("admission", "applied") == 1
    assert subject.count("admission", "duplicate") == 1
    assert subject.count("admission", "event_id_reused") == 1
    dead_letters = subject.metrics.registry.get_sample_value
    assert dead_letters("flowsight_dead_letters_total", {"reason": "event_id_reused"}) == 1


async def test_a_link_sends_the_local_journey_on_under_the_nhs_pseudonym_and_empties_it(
    subject: Tracker,
) -> None:
    local, nhs = "1" * 64, "9" * 64
    event = {**admission("adm-1", "2026-05-01T10:00:00+00:00"), "pseudonym": local}
    discharged = {**admission("dis-1", "2026-05-02T10:00:00+00:00"), "pseudonym": nhs}
    linking = link(local, discharged)
    async with subject.agent.test_context() as agent:
        await agent.put(orjson.dumps(event), key=local.encode())
        await agent.put(orjson.dumps(linking), key=local.encode())
        moved = await subject.moved.get(timeout=1)

    assert moved.key == nhs.encode()
    assert orjson.loads(moved.value) == {**event, "pseudonym": nhs, "moved_from": local}
    assert subject.journeys[local] == [linking]
    states, _, before = subject.sink.writes[-1]
    assert [(s.pseudonym, s.in_services) for s in states] == [(local, {})]
    assert before is not None and before[0].in_services == {"lth-wards": event["occurred_at"]}
    assert subject.count("link", "applied") == 1


class RecordingTable(dict[str, Any]):
    """A table whose writes (what faust sends to its changelog) are kept in order."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.writes: list[str] = []

    def __setitem__(self, key: str, value: Any) -> None:
        self.writes.append(key)
        super().__setitem__(key, value)


async def test_a_batch_already_in_a_local_store_is_stored_again_once_per_process(
    app: faust.App, settings: Settings
) -> None:
    """A worker killed after its on-disk tables took a batch but before the changelog had it
    reads the batch again: the fold finds nothing new, yet the changelog must get the values."""
    event = admission("adm-1", "2026-05-01T10:00:00+00:00")
    report = capacity("2026-05-01T12:00:00+00:00", open_beds=5)
    journeys = RecordingTable({ANN: [event]})
    beds = RecordingTable({"service:lth-wards": report})
    sink = RecordingSink()
    channel = app.channel()
    agent = app.agent(raw_topic(app, settings.events_topic), name="tracker")(
        tracker(
            journeys,
            beds,
            sink,
            ChannelOutlet(app.channel()),
            DeadLetters(channel, WorkerMetrics()),
            WorkerMetrics(),
            settings,
            ServiceMap.of(CATALOGUE),
            Backlog(lambda tp: None),
        )
    )
    async with agent.test_context() as running:
        for _ in range(2):  # read again after the restart, then delivered once more
            await running.put(orjson.dumps(event), key=ANN.encode())
            await running.put(orjson.dumps(report), key=b"service:lth-wards")

    # The journey is stored once, as it was: nothing more on the later delivery.
    assert journeys.writes == [ANN] and journeys[ANN] == [event]
    # A capacity report read again is applied again (the fold stores it each time).
    assert beds.writes == ["service:lth-wards"] * 2 and beds["service:lth-wards"] == report
    # The read model already had the batch (it is written first): it is told nothing new.
    assert all(states == [] for states, _, _ in sink.writes)


async def test_the_tracker_tells_the_refresh_whether_a_batch_was_waiting_behind_its_own(
    app: faust.App, settings: Settings
) -> None:
    behind = Tracker(app, settings, highwater=1_000_000)  # the topic holds a million more
    async with behind.agent.test_context() as agent:
        await agent.put(orjson.dumps(admission("adm-1", "2026-05-01T10:00:00+00:00")), key=b"a")
    assert behind.backlog.behind is True


async def test_the_tracker_tells_the_refresh_whether_a_batch_was_mostly_history(
    app: faust.App, settings: Settings
) -> None:
    tracker = Tracker(app, settings)
    past = (datetime.now(UTC) - timedelta(days=3)).isoformat()
    async with tracker.agent.test_context() as agent:
        await agent.put(orjson.dumps(admission("adm-1", past)), key=b"a")
    assert tracker.backlog.replaying is True
    async with tracker.agent.test_context() as agent:
        await agent.put(orjson.dumps(admission("adm-2", datetime.now(UTC).isoformat())), key=b"a")
    assert tracker.backlog.replaying is False


async def batches_of(tracker: Tracker, spacing: float) -> list[int]:
    """Three admissions to the tracker, the second after the first was written and the third
    `spacing` seconds after the second; how many batches took them, and how many events."""
    events = [admission(f"adm-{n}", f"2026-05-01T1{n}:00:00+00:00") for n in (1, 2, 3)]
    async with tracker.agent.test_context() as agent:
        await agent.put(orjson.dumps(events[0]), key=ANN.encode())  # written
        await agent.put(orjson.dumps(events[1]), key=ANN.encode(), wait=False)
        await asyncio.sleep(spacing)
        await agent.put(orjson.dumps(events[2]), key=ANN.encode())
    sample = tracker.metrics.registry.get_sample_value
    return [int(sample(f"flowsight_sink_batch_events_{part}") or 0) for part in ("count", "sum")]


async def test_caught_up_a_batch_closes_after_sink_batch_seconds(
    app: faust.App, settings: Settings
) -> None:
    caught_up = Tracker(app, settings.model_copy(update={"sink_backlog_seconds": 2.0}))
    assert await batches_of(caught_up, spacing=0.5) == [3, 3]  # each event its own batch


async def test_behind_a_backlog_a_batch_waits_until_it_spans_sink_backlog_seconds(
    app: faust.App, settings: Settings
) -> None:
    """Behind, the tracker takes fewer, larger batches: after one that was not full it waits
    until the batch spans sink_backlog_seconds, and the next takes what came meanwhile."""
    behind = Tracker(
        app, settings.model_copy(update={"sink_backlog_seconds": 2.0}), highwater=1_000_000
    )
    assert await batches_of(behind, spacing=0.5) == [2, 3]  # the 2nd and 3rd in one batch
