"""Daily figures without holes, the same however they were built: live batch by batch, after a
restart, or from scratch in one batch; period lost bed days and past occupancy by hand."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from flowsight.adapters.readmodel import daily_rows, store
from flowsight.devtools.simulator.model import City
from flowsight.services.facts import LONDON
from flowsight.services.journey import Event
from tests.adapters.readmodel.model import CATALOGUE, Feed, ReadModel, midnight

NOW = datetime.now(UTC)
TODAY = NOW.astimezone(LONDON).date()
#: Day 0 of the scenarios: twelve days before today, so day 12 is today.
D0 = TODAY - timedelta(days=12)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """`hour`:`minute` (Europe/London) on day `day` of the scenario."""
    return midnight(D0 + timedelta(days=day)) + timedelta(hours=hour, minutes=minute)


def ward_fortnight() -> Feed:
    """Twelve days of a ward, an ED and a UCR team, with four quiet days at the end."""
    feed = Feed()
    feed.publish("capacity", "lth-wards", at(0, 8), open=20, total=24, unit="beds")
    # Patient 0: in a ward from day 0; ready to go on day 2 at 14:00; home on day 6 at 11:00.
    feed.publish("admission", "lth-wards", at(0, 10), 0, admission_method="emergency")
    feed.ready(
        "lth-wards", at(2, 15), 0, at(2, 14), delay_reason="p1_awaiting_resource", pathway="P1"
    )
    feed.publish("discharge", "lth-wards", at(6, 11), 0, destination="usual_residence")
    # Patient 1: through the ED on day 1, in a ward, ready on day 4 at 08:00, moved to another
    # ward on day 5 (the delay goes on), still there today.
    feed.publish("attendance", "lth-ed", at(1, 6), 1, arrived_at=at(1, 6).isoformat())
    feed.publish(
        "attendance",
        "lth-ed",
        at(1, 9),
        1,
        arrived_at=at(1, 6).isoformat(),
        departed_at=at(1, 9).isoformat(),
        outcome="admitted",
    )
    feed.publish("admission", "lth-wards", at(1, 9), 1, admission_method="emergency")
    feed.ready("lth-wards", at(4, 9), 1, at(4, 8), delay_reason="p2_awaiting_bed", pathway="P2")
    feed.publish(
        "transfer", "lth-wards", at(5, 12), 1, from_service="lth-wards", to_service="lth-wards"
    )
    # Patient 2: a UCR referral on day 3, started on day 4, discharged home on day 8.
    feed.publish("referral", "lth-ed", at(3, 10), 2, to_service="lch-ucr", status="new")
    feed.publish("admission", "lch-ucr", at(4, 10), 2, admission_method="start_of_care")
    feed.publish("discharge", "lch-ucr", at(8, 16), 2, destination="usual_residence")
    return feed


def span(first: int) -> list[date]:
    """The days of the scenario from day `first` to today."""
    return [D0 + timedelta(days=n) for n in range(first, 13)]


def batches(events: list[Event], size: int) -> list[list[Event]]:
    return [events[i : i + size] for i in range(0, len(events), size)]


def moment_of(event: Event) -> datetime:
    return datetime.fromisoformat(event["occurred_at"])


async def live(path: Path, events: list[Event]) -> ReadModel:
    """Built live: one batch per event as it happens, the refresh running after each."""
    model = await ReadModel.open(path, NOW)
    await model.refresh(moment_of(events[0]), whole_history=True)  # the worker starts
    for event in events:
        await model.fold([event])
        await model.refresh(moment_of(event) + timedelta(seconds=2))
    await model.refresh(NOW)
    return model


async def restarted(path: Path, events: list[Event]) -> ReadModel:
    """Late and shuffled batches of three, with a worker restart in the middle."""
    model = await ReadModel.open(path, NOW)
    shuffled = events[:]
    random.Random(11).shuffle(shuffled)
    parts = batches(shuffled, 3)
    for part in parts[: len(parts) // 2]:
        await model.fold(part)
        await model.refresh(max(map(moment_of, part)))
    await model.refresh(NOW - timedelta(days=3), whole_history=True)  # restarted days ago
    for part in parts[len(parts) // 2 :]:
        await model.fold(part)
    await model.refresh(NOW)
    return model


async def from_scratch(path: Path, events: list[Event]) -> ReadModel:
    """Rebuilt from the topics: every event in one batch, then the first refresh of a worker."""
    model = await ReadModel.open(path, NOW)
    await model.fold(events)
    await model.refresh(NOW, whole_history=True)
    return model


async def test_daily_rows_are_the_same_built_live_after_a_restart_or_from_scratch(
    tmp_path: Path,
) -> None:
    events = ward_fortnight().events
    models = [
        await live(tmp_path / "live.db", events),
        await restarted(tmp_path / "restarted.db", events),
        await from_scratch(tmp_path / "scratch.db", events),
    ]
    built_live, after_restart, rebuilt = [await model.rows() for model in models]
    for model in models:
        await model.close()

    assert built_live == rebuilt
    assert after_restart == rebuilt
    # A row for every day from each service's first event to today, quiet days included.
    days = {service: sorted(d for s, d in rebuilt if s == service) for service, _d in rebuilt}
    assert days["lth-wards"] == span(0)
    assert days["lth-ed"] == span(1)
    assert days["lch-ucr"] == span(3)
    assert set(days) == {"lth-wards", "lth-ed", "lch-ucr"}, "no rows for services with no event"


async def test_services_read_a_few_to_a_statement_give_the_same_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The refresh reads every service's facts in the same statements, so many services to a
    # statement (store.SERVICES_PER_STATEMENT); a catalogue larger than that is read in parts.
    events = ward_fortnight().events
    together = await restarted(tmp_path / "together.db", events)
    monkeypatch.setattr(store, "SERVICES_PER_STATEMENT", 2)
    in_parts = await restarted(tmp_path / "in-parts.db", events)
    rows = await in_parts.rows()
    assert rows == await together.rows()
    assert {service for service, _day in rows} == {"lth-wards", "lth-ed", "lch-ucr"}
    for model in (together, in_parts):
        await model.close()


async def test_a_quiet_fortnight_still_has_patients_in_beds_and_delays_growing(
    tmp_path: Path,
) -> None:
    model = await from_scratch(tmp_path / "scratch.db", ward_fortnight().events)
    rows = await model.rows()
    await model.close()
    ward = {(day - D0).days: figures for (s, day), figures in rows.items() if s == "lth-wards"}
    # Patient 0 delayed from day 2 14:00 to day 6 11:00: the midnights of days 3, 4, 5 and 6.
    # Patient 1 delayed from day 4 08:00, still: the midnights of days 5 to 12.
    assert [ward[n]["period_lost_bed_days"] for n in range(13)] == [
        0, 0, 0, 1, 1, 2, 2, 1, 1, 1, 1, 1, 1,
    ]  # fmt: skip
    assert sum(ward[n]["period_lost_bed_days"] for n in range(13)) == 4 + 8
    # As of the end of each day: current delays and their lost bed days.
    assert [ward[n]["delayed_count"] for n in range(13)] == [0, 0, 1, 1, 2, 2, 1, 1, 1, 1, 1, 1, 1]
    assert ward[5]["lost_bed_days"] == 3 + 1  # patient 0: days 3-5; patient 1: day 5
    assert ward[11]["lost_bed_days"] == 7  # patient 1 alone, days 5 to 11
    # Days 9 to 12 had no event: patient 1 is still in a bed (1 of 20 open: 5 %).
    assert [ward[n]["occupied_beds"] for n in (9, 10, 11, 12)] == [1, 1, 1, 1]
    assert ward[10]["occupancy_pct"] == 5.0
    assert ward[6]["discharges"] == 1 and ward[7]["discharges"] == 0
    # The ward move on day 5 neither ended the stay nor the delay.
    assert ward[5]["starts"] == 0 and ward[5]["discharges"] == 0


async def test_past_occupancy_uses_the_capacity_report_in_force_that_day(tmp_path: Path) -> None:
    feed = Feed()
    feed.publish("capacity", "lth-wards", at(0, 8), open=20, total=24, unit="beds")
    for patient in (0, 1):
        feed.publish("admission", "lth-wards", at(0, 10), patient, admission_method="emergency")
    feed.publish("capacity", "lth-wards", at(3, 8), open=10, total=24, unit="beds")
    model = await ReadModel.open(tmp_path / "capacity.db", NOW)
    for event in feed.events:  # each report in its own batch, as they arrive live
        await model.fold([event])
    await model.refresh(NOW, whole_history=True)
    rows = await model.rows()
    await model.close()
    occupancy = {
        (d - D0).days: f["occupancy_pct"] for (s, d), f in rows.items() if s == "lth-wards"
    }
    # 2 patients in beds: of 20 open beds on days 0-2 (10 %), of 10 from day 3 on (20 %).
    assert occupancy == {n: 10.0 if n < 3 else 20.0 for n in range(13)}


async def test_a_late_admission_corrects_every_day_since_not_only_its_own(
    tmp_path: Path,
) -> None:
    feed = ward_fortnight()
    model = await from_scratch(tmp_path / "late.db", feed.events)
    late = Feed()
    late.ids = feed.ids
    late.publish("admission", "lth-wards", at(7, 10), 3, admission_method="emergency")
    await model.fold(late.events)
    await model.refresh(NOW)
    rows = await model.rows()
    await model.close()
    beds = {(d - D0).days: f["occupied_beds"] for (s, d), f in rows.items() if s == "lth-wards"}
    # Patient 1 from day 1; patient 0 until day 6; the late patient 3 from day 7 to today.
    assert [beds[n] for n in range(13)] == [1, 2, 2, 2, 2, 2, 1, 2, 2, 2, 2, 2, 2]


def test_the_scenario_starts_twelve_days_ago() -> None:
    assert (TODAY - D0).days == 12 and isinstance(D0, date)


def simulated_fortnight() -> list[Event]:
    """The simulator's city over the last fortnight, as the validator accepts it."""
    city = City(CATALOGUE, NOW - timedelta(days=14), seed=5, volume=0.2)
    feed = Feed()
    return [feed.accept(event) for event in city.events_until(NOW)]


async def started(path: Path) -> ReadModel:
    """An empty read model at `path` after a worker's first refresh."""
    model = await ReadModel.open(path, NOW)
    await model.refresh(NOW, whole_history=True)
    return model


async def test_a_simulated_fortnight_built_live_in_batches_has_the_rows_built_from_scratch(
    tmp_path: Path,
) -> None:
    # The simulator's city: stays of days and months ending, delays, referrals decided, late
    # events. Each batch marks only the days its changes touch (services.touched), and the
    # refresh after it computes those: a worker catching up on a fortnight's backlog.
    events = simulated_fortnight()
    live = await started(tmp_path / "live.db")
    for part in batches(events, 150):
        await live.fold(part)
        await live.refresh(NOW)
    rebuilt = await from_scratch(tmp_path / "scratch.db", events)
    built_live, from_the_topics = await live.rows(), await rebuilt.rows()
    await live.close()
    await rebuilt.close()

    assert len(events) > 2000
    assert built_live == from_the_topics


async def test_behind_a_backlog_the_days_after_the_batches_wait_and_come_once_caught_up(
    tmp_path: Path,
) -> None:
    # A worker replaying a fortnight: each batch marks every day from its events' to today. The
    # refreshes behind the backlog compute a service's marked days up to the latest day the
    # batches since the last refresh touched (and today); the days after wait, still marked,
    # for the first refresh caught up.
    events = simulated_fortnight()
    live = await started(tmp_path / "live.db")
    parts = batches(events, 150)
    halfway = parts[: len(parts) // 2]
    for part in halfway:
        await live.fold(part)
        await live.refresh(NOW, behind=True)
    reached = max(moment_of(event) for event in halfway[-1]).astimezone(LONDON).date()
    assert reached < TODAY - timedelta(days=5)
    async with live.engine.connect() as connection:
        marks = await daily_rows.dirty_marks(connection)
    # Every service with facts waits, from about where the batches had reached, through today.
    assert {mark.service_id for mark in marks} == {service for (service, _day) in await live.rows()}
    for mark in marks:
        assert reached - timedelta(days=3) < mark.day <= reached + timedelta(days=1)
        assert mark.through == TODAY
    for part in parts[len(parts) // 2 :]:
        await live.fold(part)
        await live.refresh(NOW, behind=True)
    await live.refresh(NOW)  # caught up
    async with live.engine.connect() as connection:
        assert await daily_rows.dirty_marks(connection) == [], "no day left waiting"
    rebuilt = await from_scratch(tmp_path / "scratch.db", events)
    built_live, from_the_topics = await live.rows(), await rebuilt.rows()
    await live.close()
    await rebuilt.close()

    assert built_live == from_the_topics
