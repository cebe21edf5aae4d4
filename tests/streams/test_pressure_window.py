"""Pressure is scored on the last 24 hours, through the real sink, refresh and pressure step:
a period restarting at midnight made one breach at 00:05 a 100 % four-hour breach rate."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from flowsight.adapters.readmodel import pressure as pressure_store
from flowsight.services.pressure import Cutoffs
from flowsight.streams.pressure import PressurePolicy, assess_pressure
from tests.adapters.readmodel.model import CATALOGUE, Feed, ReadModel

NOW = datetime.fromisoformat("2026-05-06T00:30:00+01:00")


async def test_one_breach_after_midnight_is_scored_with_the_evening_before(tmp_path: Path) -> None:
    feed = Feed()
    # Twelve departures in the evening, each after an hour: no breach.
    for n in range(12):
        arrived = datetime.fromisoformat("2026-05-05T12:00:00+01:00") + timedelta(minutes=30 * n)
        departed = arrived + timedelta(hours=1)
        feed.publish(
            "attendance",
            "lth-ed",
            departed,
            n,
            arrived_at=arrived.isoformat(),
            departed_at=departed.isoformat(),
            outcome="discharged",
        )
    # One at 00:05 after five hours in the department: a breach.
    feed.publish(
        "attendance",
        "lth-ed",
        datetime.fromisoformat("2026-05-06T00:05:00+01:00"),
        12,
        arrived_at="2026-05-05T19:05:00+01:00",
        departed_at="2026-05-06T00:05:00+01:00",
        outcome="discharged",
    )
    model = await ReadModel.open(tmp_path / "read-model.db")
    await model.fold(feed.events)
    daily = await model.refresh(NOW, whole_history=True)
    policy = PressurePolicy(Cutoffs(), timedelta(minutes=30), {}, [])
    await assess_pressure(model.engine, CATALOGUE, daily.pressure, policy, NOW)
    async with model.engine.connect() as connection:
        ed = (await pressure_store.states(connection))["lth-ed"]
    await model.close()

    # Today so far: 1 departure, 1 breach (100 %); the last 24 hours: 1 breach in 13.
    assert (daily.today["lth-ed"]["departures"], daily.today["lth-ed"]["four_hour_breaches"]) == (
        1,
        1,
    )
    breach = next(i for i in ed["evidence"]["indicators"] if i["name"] == "four_hour_breach_pct")
    assert (breach["value"], breach["level"]) == (7.7, 1)  # 100 * 1 / 13 = 7.69
    assert ed["level"] == 1


async def test_a_changed_hold_period_applies_to_a_scope_already_escalated(tmp_path: Path) -> None:
    # Escalated under the default 30 minutes, then the worker restarted with 2: the stored hold
    # was kept, and the department stayed "held at 4" a quarter of an hour after it had eased.
    model = await ReadModel.open(tmp_path / "read-model.db")
    crowded = {"lth-ed": {"queue_length": 130.0}}
    eased = {"lth-ed": {"queue_length": 10.0}}
    thirty, two = (
        PressurePolicy(Cutoffs(), timedelta(minutes=minutes), {}, []) for minutes in (30, 2)
    )
    await assess_pressure(model.engine, CATALOGUE, crowded, thirty, NOW)
    await assess_pressure(model.engine, CATALOGUE, eased, two, NOW + timedelta(minutes=1))
    after = await assess_pressure(model.engine, CATALOGUE, eased, two, NOW + timedelta(minutes=4))
    await model.close()

    assert after.published["lth-ed"] == 1  # lower for 3 minutes, past a hold of 2
