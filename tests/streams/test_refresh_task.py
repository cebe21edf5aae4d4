"""The refresh task as the worker runs it: a change is refreshed and scored, every scope's score
is published, and how long the refresh took is on the worker's metrics."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson

from flowsight.adapters.readmodel import daily_rows
from flowsight.services.facts import LONDON
from flowsight.services.pressure import SYSTEM_SCOPE, Cutoffs
from flowsight.streams.agents import Backlog
from flowsight.streams.daily import ONE_DAY, DailyReading, read_daily
from flowsight.streams.pressure import CatchingUp, PressurePolicy
from flowsight.streams.tasks.refresh import Refresh
from tests.adapters.readmodel.model import CATALOGUE, Feed, ReadModel


class Topic:
    """Stands in for a Kafka topic the refresh sends to (Kafka is not what this test is about)."""

    def __init__(self) -> None:
        self.records: list[tuple[bytes, bytes]] = []

    async def send(self, *, key: bytes, value: bytes) -> None:
        self.records.append((key, value))


def refresh_over(
    model: ReadModel, pressure: Topic, reader: Any = None, backlog: Backlog | None = None
) -> Refresh:
    """The worker's refresh over `model`, caught up unless `backlog` says not, its scores sent
    to `pressure`; figures on the loop unless `reader` computes them."""
    return Refresh(
        model.sink,
        CATALOGUE,
        PressurePolicy(Cutoffs(), timedelta(minutes=30), {}, []),
        model.metrics,
        pressure,  # type: ignore[arg-type]
        Topic(),  # type: ignore[arg-type]
        backlog or Backlog(lambda tp: None),
        reader,
    )


async def test_a_change_is_scored_published_for_every_scope_and_its_refresh_timed(
    tmp_path: Path,
) -> None:
    feed = Feed()
    now = datetime.now(UTC)
    feed.visit("lth-ed", 0, now - timedelta(hours=2))  # in the department for two hours
    model = await ReadModel.open(tmp_path / "read-model.db")
    await model.fold(feed.events)  # the sink marks the change
    pressure = Topic()
    refresh = refresh_over(model, pressure)
    try:
        # One round: the change wakes it at once (the timer would be 30 s away).
        await asyncio.wait_for(refresh.task(lambda: bool(pressure.records), 30)(), 20)
    finally:
        await model.close()

    scores = {key.decode(): orjson.loads(value) for key, value in pressure.records}
    assert set(scores) == {service.id for service in CATALOGUE.services} | {SYSTEM_SCOPE}
    queue = next(i for i in scores["lth-ed"]["indicators"] if i["name"] == "queue_length")
    assert queue["value"] == 1  # the patient in the department was counted
    registry = model.metrics.registry
    opel = registry.get_sample_value
    assert scores["lth-ed"]["published_level"] == opel("flowsight_opel_level", {"scope": "lth-ed"})
    assert scores["lth-ed"]["published_level"] == 1
    # A service that has reported nothing is not scored: no level, not OPEL 1, on the topic and
    # in Prometheus; and the system is the department's alone.
    ucr = scores["lch-ucr"]
    assert (ucr["level"], ucr["published_level"]) == (None, None)
    assert opel("flowsight_opel_level", {"scope": "lch-ucr"}) is None
    assert [s["scope"] for s in scores[SYSTEM_SCOPE]["services"] if s["level"]] == ["lth-ed"]
    assert registry.get_sample_value("flowsight_refresh_seconds_count") == 1
    assert (registry.get_sample_value("flowsight_refresh_seconds_sum") or 0) > 0


async def test_figures_computed_beside_the_loop_do_not_count_against_the_next_refresh(
    tmp_path: Path,
) -> None:
    """The refresh's pace (`pause`) keeps its share of the worker's loop in bounds; the time the
    figures' process computes, the loop goes on with the batches, so it is not counted."""
    feed = Feed()
    feed.visit("lth-ed", 0, datetime.now(UTC) - timedelta(hours=2))
    model = await ReadModel.open(tmp_path / "read-model.db")
    await model.fold(feed.events)

    async def slow_child(
        services: Any, now: datetime, whole_history: bool, marked_until: date | None
    ) -> DailyReading:
        await asyncio.sleep(0.3)  # the child computing, the worker's loop free meanwhile
        return await read_daily(model.engine, services, now, whole_history, marked_until)

    refresh = refresh_over(model, Topic(), reader=slow_child)
    try:
        took = await refresh.once()
    finally:
        await model.close()
    # The child's 0.3 s are counted beside the loop: what paces the next refresh is the rest.
    assert 0.3 <= refresh.beside <= took


def behind_backlog() -> Backlog:
    """The agents behind: after the tracker's last batch, a million events still wait."""
    backlog = Backlog(lambda tp: 1_000_000)
    record = SimpleNamespace(message=SimpleNamespace(tp="ingest-0", offset=0))
    backlog.batch("tracker", [record], most=5000)  # type: ignore[list-item]
    return backlog


async def test_behind_a_backlog_a_service_s_days_after_its_latest_batch_wait_until_caught_up(
    tmp_path: Path,
) -> None:
    """A replay's batch five days back marks every day from then to today; behind the backlog
    the refresh computes up to the batch's day (and today), the days after wait, still marked,
    and the first refresh caught up computes them."""
    now = datetime.now(UTC)
    # At 08:00 five days back, so the visit ends the day it began whatever the time of the run
    # (begun at 21:00 or later, it ended the day after, and the batch reached that day too).
    five_days_back = (now.astimezone(LONDON) - timedelta(days=5)).date()
    arrived = datetime.combine(five_days_back, time(8), tzinfo=LONDON).astimezone(UTC)
    feed = Feed()
    feed.visit("lth-ed", 0, arrived, arrived + timedelta(hours=3))
    model = await ReadModel.open(tmp_path / "read-model.db")
    await model.fold(feed.events)
    refresh = refresh_over(model, Topic())
    refresh.history_checked = True  # past its first refresh, which fills whole histories
    refresh.backlog = behind_backlog()
    day = arrived.astimezone(LONDON).date()
    today = now.astimezone(LONDON).date()
    try:
        await refresh.once()
        async with model.engine.connect() as connection:
            (mark,) = await daily_rows.dirty_marks(connection)
        assert (mark.service_id, mark.day, mark.through) == ("lth-ed", day + ONE_DAY, today)
        computed = {d for (service, d) in await model.rows() if service == "lth-ed"}
        assert day in computed and today in computed

        refresh.backlog = Backlog(lambda tp: None)  # caught up
        await refresh.once()
        async with model.engine.connect() as connection:
            assert await daily_rows.dirty_marks(connection) == []
        rows = await model.rows()
    finally:
        await model.close()
    assert {d for (service, d) in rows if service == "lth-ed"} == {
        day + n * ONE_DAY for n in range((today - day).days + 1)
    }


def occupancy_of(pressure: Topic, service: str) -> float | None:
    """The occupancy the last score of `service` sent to the pressure topic was scored on."""
    last = [orjson.loads(value) for key, value in pressure.records if key == service.encode()][-1]
    return next(i["value"] for i in last["indicators"] if i["name"] == "occupancy_pct")


async def test_a_capacity_report_is_scored_at_once_on_the_last_refresh_s_figures(
    tmp_path: Path,
) -> None:
    """A ward's report of its open beds moves its occupancy and level without waiting for the
    next refresh: pressure is scored again on the figures the last refresh computed, the
    report's open beds laid over them; the next refresh reads the report itself."""
    now = datetime.now(UTC)
    feed = Feed()
    for patient in range(3):
        feed.publish(
            "admission", "lch-community-beds", now - timedelta(hours=5), patient,
            admission_method="elective",
        )  # fmt: skip
    model = await ReadModel.open(tmp_path / "read-model.db")
    readings = 0

    async def counted(
        services: Any, now: datetime, whole_history: bool, marked_until: date | None
    ) -> DailyReading:
        nonlocal readings
        readings += 1
        return await read_daily(model.engine, services, now, whole_history, marked_until)

    pressure = Topic()
    refresh = refresh_over(model, pressure, reader=counted)
    try:
        await model.fold(feed.events)
        await refresh.once()
        assert occupancy_of(pressure, "lch-community-beds") == 1.6  # 3 of the catalogue's 185

        report = feed.publish(
            "capacity", "lch-community-beds", now - timedelta(seconds=1), open=4, total=185,
            unit="beds",
        )  # fmt: skip
        await model.fold([report])
        assert model.sink.capacity_written.is_set()  # what wakes the task's rescore
        await refresh.rescore()
        assert readings == 1  # no figures computed again
        assert occupancy_of(pressure, "lch-community-beds") == 75.0  # 3 of the 4 open
        registry = model.metrics.registry
        assert registry.get_sample_value("flowsight_rescore_seconds_count") == 1

        await refresh.once()  # the next refresh reads the report from the read model
        assert readings == 2
        assert occupancy_of(pressure, "lch-community-beds") == 75.0
        assert not model.sink.capacity  # read back: nothing left to lay over
    finally:
        await model.close()


async def until(condition: Callable[[], bool], seconds: float = 20) -> None:
    """Wait until `condition()` holds, checking every 10 ms; fail after `seconds`."""
    for _ in range(int(seconds * 100)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"not so within {seconds} s")


async def test_the_task_rescores_when_a_batch_writes_a_capacity_report(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    feed = Feed()
    feed.publish(
        "admission", "lch-community-beds", now - timedelta(hours=5), 0, admission_method="elective"
    )
    model = await ReadModel.open(tmp_path / "read-model.db")
    pressure = Topic()
    refresh = refresh_over(model, pressure)
    registry = model.metrics.registry
    stop = asyncio.Event()
    task = asyncio.create_task(refresh.task(stop.is_set, 30)())
    try:
        await model.fold(feed.events)
        await until(lambda: bool(pressure.records))  # the first refresh
        report = feed.publish(
            "capacity", "lch-community-beds", now - timedelta(seconds=1), open=2, total=185,
            unit="beds",
        )  # fmt: skip
        await model.fold([report])
        await until(lambda: bool(registry.get_sample_value("flowsight_rescore_seconds_count")))
        assert occupancy_of(pressure, "lch-community-beds") == 50.0
    finally:
        stop.set()
        model.sink.changed.set()  # wakes the round to see the stop
        await asyncio.wait_for(task, 20)
        await model.close()


def scored(topic: Topic, scope: str) -> dict[str, Any]:
    """The last score of `scope` sent to the pressure topic."""
    return [orjson.loads(value) for key, value in topic.records if key == scope.encode()][-1]


async def department_of_95(tmp_path: Path) -> tuple[ReadModel, Refresh, Topic, Topic]:
    """A read model whose department has 95 patients (its queue thresholds' level 3), and a
    refresh over it writing to the pressure and alerts topics returned."""
    feed = Feed()
    for patient in range(95):
        feed.visit("lth-ed", patient, datetime.now(UTC) - timedelta(hours=1))
    model = await ReadModel.open(tmp_path / "read-model.db")
    await model.fold(feed.events)
    pressure, alerts = Topic(), Topic()
    refresh = refresh_over(model, pressure)
    refresh.alerts_topic = alerts  # type: ignore[assignment]
    return model, refresh, pressure, alerts


async def test_behind_a_backlog_levels_hold_and_the_first_refresh_caught_up_moves_them_once(
    tmp_path: Path,
) -> None:
    """A worker reading a census or catching up after an outage scored a state still filling:
    a service rose a level per refresh, an alert each to every on-call route. Behind, scores are
    published and the levels stay; caught up, each moves at once: one alert."""
    model, refresh, pressure, alerts = await department_of_95(tmp_path)
    refresh.backlog = behind_backlog()
    try:
        await refresh.once()
        await refresh.once()
        held = scored(pressure, "lth-ed")
        # Held before its first reading: no level published (not level 1, where every
        # escalation starts).
        assert held["level"] >= 2 and held["published_level"] is None
        assert alerts.records == []

        refresh.backlog = Backlog(lambda tp: None)  # caught up
        await refresh.once()
    finally:
        await model.close()
    moved = scored(pressure, "lth-ed")
    assert moved["published_level"] == moved["level"] == held["level"]
    raised = [orjson.loads(value) for _, value in alerts.records]
    ed = [alert for alert in raised if alert["scope"] == "lth-ed"]
    assert [(a["level_from"], a["level_to"]) for a in ed] == [(1, held["level"])]


async def test_while_history_is_taken_in_at_the_pace_it_comes_levels_hold_too(
    tmp_path: Path,
) -> None:
    """`flowsight up`'s simulator publishes a week's past at 500 events a second, which the
    worker keeps up with: no backlog, so levels moved on a state still filling, and a fresh
    start raised nine escalations (one on a wait only the rest of the past would end)."""
    model, refresh, pressure, alerts = await department_of_95(tmp_path)
    clock = [0.0]
    refresh.backlog = Backlog(lambda tp: None, clock=lambda: clock[0])  # no backlog
    refresh.backlog.history(replayed=True)  # the tracker's last batch: mostly days old
    try:
        await refresh.once()
        assert scored(pressure, "lth-ed")["published_level"] is None
        assert alerts.records == []

        clock[0] = Backlog.REPLAY_SECONDS  # no history since: taken in
        await refresh.once()
    finally:
        await model.close()
    moved = scored(pressure, "lth-ed")
    assert moved["published_level"] == moved["level"] >= 2


def test_levels_are_held_for_a_while_at_most_so_an_overloaded_worker_still_alerts() -> None:
    clock = [0.0]
    catching_up = CatchingUp(most=300, clock=lambda: clock[0])

    assert catching_up.holds(behind=True)
    clock[0] = 299.0
    assert catching_up.holds(behind=True)
    clock[0] = 300.0
    assert not catching_up.holds(behind=True)  # still behind: alerts go out, late
    clock[0] = 900.0
    assert not catching_up.holds(behind=True)
    assert not catching_up.holds(behind=False)  # caught up: a new backlog is held again
    assert catching_up.holds(behind=True)


async def test_prometheus_shows_the_level_published_not_a_score_held_behind_a_backlog(
    tmp_path: Path,
) -> None:
    """The alerting rules read `flowsight_opel_level` as the level flowsight publishes: behind a
    backlog a score is held back (no level published yet), so the gauge has no sample either;
    it had the held score's level, which the rules would have alerted on."""
    feed = Feed()
    feed.visit("lth-ed", 0, datetime.now(UTC) - timedelta(hours=2))
    model = await ReadModel.open(tmp_path / "read-model.db")
    await model.fold(feed.events)
    pressure = Topic()
    refresh = refresh_over(model, pressure, backlog=behind_backlog())
    try:
        await refresh.once()
    finally:
        await model.close()

    ed = next(orjson.loads(v) for k, v in pressure.records if k == b"lth-ed")
    assert ed["level"] == 1 and ed["published_level"] is None  # scored, held back
    opel = model.metrics.registry.get_sample_value
    assert opel("flowsight_opel_level", {"scope": "lth-ed"}) is None
    assert opel("flowsight_pressure_score", {"scope": "lth-ed"}) is not None
